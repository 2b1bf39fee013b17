# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""oauth_mail_token run as root in folders other users can write or own (the relay_helper role's case).

The role makes the token folder owned by the service user and runs the module
as root. That user can plant links in its own folder; these tests plant them
and check that a root-owned decoy keeps its owner, mode and content.
"""
from __future__ import annotations

import os
import shutil
import stat
import tempfile

import pytest

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root (files of another user, links planted)")]

MODULE = "oauth_mail_token"
NOBODY = 65534


@pytest.fixture
def base():
    # Not under pytest's tmp_path: its folders are 0700 root, and the folder's owner must be able to reach
    # nothing but its own folder anyway; a 0755 base mirrors /var/lib.
    path = tempfile.mkdtemp(prefix="xoauth2-files-")
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def decoy(base):
    path = os.path.join(base, "shadow")
    with open(path, "wb") as handle:
        handle.write(b'{"refreshes": 41, "secret_marker": "root-only"}\n')
    os.chmod(path, 0o600)
    return path


@pytest.fixture
def service_folder(base):
    """A folder owned by the service user (here nobody), mode 0700, as the relay_helper role makes it."""
    path = os.path.join(base, "state")
    os.mkdir(path, 0o700)
    os.chown(path, NOBODY, NOBODY)
    return path


def snapshot(path):
    st = os.stat(path)
    return (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), open(path, "rb").read())


def app_args(stack, key_text, path, **extra):
    return dict(dict(path=path, provider="oidc", authority=stack.issuer, client_id="relay-app",
                     client_secret=stack.clients["relay-app"], scopes=["mail.send"], username="alice@example.test",
                     encryption_key=key_text, ca_path=stack.ca_file, timeout=10, retries=1), **extra)


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o1777, 0o720], ids=["0777", "0770", "1777", "0720"])
def test_root_refuses_a_folder_others_can_write(run_module, idp, stack, key_text, base, mode):
    folder = os.path.join(base, "shared")
    os.mkdir(folder)
    os.chmod(folder, mode)
    result = run_module(MODULE, app_args(stack, key_text, os.path.join(folder, "alerts.token")))
    assert result.get("failed") is True, result
    assert result["error_category"] == "configuration" and result["error_option"] == "path"
    assert folder in result["msg"] and "writable" in result["msg"]
    assert os.listdir(folder) == [] and idp.counters()["token"] == 0


def test_root_works_as_the_owner_of_the_folder_and_follows_no_link(run_module, idp, stack, key_text,
                                                                   service_folder, decoy):
    token = os.path.join(service_folder, "alerts.token")
    before = snapshot(decoy)
    # The service user plants a lock link at the target it wants root to hand over.
    os.symlink(decoy, token + ".lock")
    os.lchown(token + ".lock", NOBODY, NOBODY)
    args = app_args(stack, key_text, token, owner="nobody", group="nogroup")
    refused = run_module(MODULE, args)
    assert refused.get("failed") is True and refused["error_category"] == "storage", refused
    assert token + ".lock" in refused["msg"]
    assert snapshot(decoy) == before

    os.unlink(token + ".lock")
    first = run_module(MODULE, args)
    assert first["changed"] is True and first["action"] == "acquired", first
    # The status link the service user plants next is replaced, never read nor written through.
    os.unlink(token + ".status")
    os.symlink(decoy, token + ".status")
    second = run_module(MODULE, dict(args, state="refreshed"))
    assert second["changed"] is True and second["action"] == "acquired", second
    assert snapshot(decoy) == before
    names = sorted(os.listdir(service_folder))
    assert names == ["alerts.token", "alerts.token.bak", "alerts.token.lock", "alerts.token.status"]
    for name in names:
        st = os.lstat(os.path.join(service_folder, name))
        assert stat.S_ISREG(st.st_mode) and (st.st_uid, st.st_gid) == (NOBODY, NOBODY), name
        assert stat.S_IMODE(st.st_mode) == 0o600, name
    assert "secret_marker" not in open(token + ".status").read()


def test_an_owner_the_folder_owner_cannot_give_is_a_clear_error(run_module, idp, stack, key_text, service_folder):
    result = run_module(MODULE, app_args(stack, key_text, os.path.join(service_folder, "alerts.token"),
                                         owner="root"))
    assert result.get("failed") is True and result["error_option"] == "owner", result
    assert "nobody" in result["msg"]
    assert os.listdir(service_folder) == [] and idp.counters()["token"] == 0


def test_absent_removes_every_side_file_and_no_link_target(run_module, stack, key_text, service_folder, decoy):
    token = os.path.join(service_folder, "alerts.token")
    args = app_args(stack, key_text, token)
    assert run_module(MODULE, args)["action"] == "acquired"
    assert run_module(MODULE, dict(args, state="refreshed"))["changed"] is True
    before = snapshot(decoy)
    os.unlink(token + ".status")
    os.symlink(decoy, token + ".status")
    leftovers = [".alerts.token.4000000.0badc0de.tmp", ".alerts.token.bak.4000001.12345678.tmp",
                 "alerts.token.bak.4000002.tmp", "alerts.token.device"]
    for name in leftovers:
        with open(os.path.join(service_folder, name), "wb") as handle:
            handle.write(b"partial")
        os.chown(os.path.join(service_folder, name), NOBODY, NOBODY)
    result = run_module(MODULE, dict(path=token, state="absent"))
    assert result["changed"] is True and result["action"] == "removed", result
    assert os.listdir(service_folder) == []
    assert snapshot(decoy) == before
    assert run_module(MODULE, dict(path=token, state="absent"))["changed"] is False
