# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""oauth_mail_token's file arguments (add_file_common_args): symbolic modes, SELinux options, the service user."""
from __future__ import annotations

import os
import shutil
import stat
import tempfile

import pytest

pytestmark = pytest.mark.integration

MODULE = "oauth_mail_token"
NOBODY = 65534
SIDE = ("", ".bak", ".status", ".lock")


@pytest.fixture
def app_args(stack, key_text, token_path):
    return dict(path=token_path, provider="oidc", authority=stack.issuer, client_id="relay-app",
                client_secret=stack.clients["relay-app"], scopes=["mail.send"], username="alice@example.test",
                encryption_key=key_text, ca_path=stack.ca_file, timeout=10, retries=3)


def modes(path):
    return {suffix: stat.S_IMODE(os.stat(path + suffix).st_mode) for suffix in SIDE if os.path.exists(path + suffix)}


def test_a_symbolic_mode_applies_to_the_token_and_its_side_files(run_module, app_args):
    run_module(MODULE, app_args)
    run_module(MODULE, dict(app_args, state="refreshed"))  # makes .bak and .status
    result = run_module(MODULE, dict(app_args, mode="u=rw,g=r,o="))
    assert result.get("failed") is not True, result
    assert result["changed"] is True and result["action"] == "none", result
    assert modes(app_args["path"]) == {suffix: 0o640 for suffix in SIDE}
    again = run_module(MODULE, dict(app_args, mode="u=rw,g=r,o="))
    assert again["changed"] is False, again


def test_a_relative_symbolic_mode_is_applied_to_0600_for_new_files(run_module, app_args):
    result = run_module(MODULE, dict(app_args, mode="g+r"))
    assert result["changed"] is True and result["action"] == "acquired", result
    assert modes(app_args["path"])[""] == 0o640
    # an existing file: relative to what it has now, as ansible.builtin.file does
    assert run_module(MODULE, dict(app_args, mode="g+r"))["changed"] is False


def test_without_mode_a_widened_token_file_goes_back_to_0600(run_module, app_args):
    run_module(MODULE, app_args)
    os.chmod(app_args["path"], 0o644)
    result = run_module(MODULE, app_args)
    assert result["changed"] is True and modes(app_args["path"])[""] == 0o600, result


@pytest.mark.parametrize("mode", ["u=rwq", "rw-r", "99999", "u+s,x"])
def test_a_wrong_mode_names_it_before_anything_is_done(run_module, idp, app_args, mode):
    result = run_module(MODULE, dict(app_args, mode=mode))
    assert result["failed"] is True and result["error_option"] == "mode" and "mode" in result["msg"], result
    assert "Traceback" not in result.raw
    assert not os.path.exists(app_args["path"]) and idp.counters()["token"] == 0


def test_selinux_options_are_accepted(run_module, app_args):
    # No SELinux here: Ansible ignores the context then, as for ansible.builtin.file; the options are part of the spec.
    result = run_module(MODULE, dict(app_args, seuser="system_u", serole="object_r", setype="etc_t", selevel="s0"))
    assert result.get("failed") is not True and result["action"] == "acquired", result


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (a folder of another user)")
def test_the_relay_helper_roles_owner_group_and_mode_in_the_service_users_folder(run_module, stack, key_text):
    base = tempfile.mkdtemp(prefix="xoauth2-args-")
    try:
        os.chmod(base, 0o755)
        folder = os.path.join(base, "state")
        os.mkdir(folder, 0o700)
        os.chown(folder, NOBODY, NOBODY)
        path = os.path.join(folder, "alerts.token")
        args = dict(path=path, provider="oidc", authority=stack.issuer, client_id="relay-app",
                    client_secret=stack.clients["relay-app"], scopes=["mail.send"], username="alice@example.test",
                    encryption_key=key_text, ca_path=stack.ca_file, timeout=10, retries=1,
                    owner="nobody", group=str(NOBODY), mode="0600")
        first = run_module(MODULE, args)
        assert first["changed"] is True and first["action"] == "acquired", first
        assert run_module(MODULE, args)["changed"] is False
        widened = run_module(MODULE, dict(args, mode="u=rw,g=r"))
        assert widened["changed"] is True, widened
        for name in os.listdir(folder):
            st = os.stat(os.path.join(folder, name))
            assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (NOBODY, NOBODY, 0o640), name
    finally:
        shutil.rmtree(base, ignore_errors=True)
