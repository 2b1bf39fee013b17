# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""oauth_mail_token against the real test identity provider (tests/stack)."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import time

import pytest
from module_runner import module_command, module_env, parse_run

pytestmark = pytest.mark.integration

MODULE = "oauth_mail_token"


@pytest.fixture
def delegated_args(stack, idp, key_text, token_path):
    """Delegated token seeded from a real grant's refresh token."""
    minted = idp.mint(client_id="device-public", account="alice@example.test",
                      scope="openid offline_access mail.send")
    return dict(path=token_path, provider="oidc", authority=stack.issuer, client_id="device-public",
                refresh_token=minted["refresh_token"], username="alice@example.test",
                encryption_key=key_text, ca_path=stack.ca_file, timeout=10, retries=3)


def secrets_absent(result, *secrets):
    for secret in secrets:
        assert secret and secret not in result.raw


def test_acquire_then_no_change_without_any_request(run_module, idp, app_args, stack):
    first = run_module(MODULE, app_args)
    assert first["changed"] is True and first["action"] == "acquired", first
    assert first["expires_in"] > 3000 and first["token_type"].lower() == "bearer"
    assert stat.S_IMODE(os.stat(app_args["path"]).st_mode) == 0o600
    assert idp.counters()["token"] == 1
    before = idp.counters()["total"]
    second = run_module(MODULE, app_args)
    assert second["changed"] is False and second["action"] == "none"
    assert idp.counters()["total"] == before
    secrets_absent(first, stack.clients["relay-app"])
    assert "access_token" not in first


def test_microsoft_provider_through_msal_oidc_authority(run_module, idp, app_args):
    args = dict(app_args, provider="microsoft")
    first = run_module(MODULE, args)
    assert first["changed"] is True and first["provider"] == "microsoft", first
    assert idp.counters()["token"] == 1
    assert run_module(MODULE, args)["changed"] is False
    assert idp.counters()["token"] == 1


def test_return_token_gives_a_token_the_provider_accepts(run_module, idp, app_args):
    result = run_module(MODULE, dict(app_args, return_token=True))
    assert idp.introspect(result["access_token"])["active"] is True


@pytest.mark.parametrize("provider", ["oidc", "microsoft"])
def test_two_refreshes_in_a_row_with_rotation(run_module, idp, delegated_args, provider):
    seed = delegated_args["refresh_token"]
    delegated_args = dict(delegated_args, provider=provider, scopes=["mail.send", "offline_access"])
    assert run_module(MODULE, delegated_args)["action"] == "acquired"
    for dummy in range(2):
        result = run_module(MODULE, dict(delegated_args, state="refreshed"))
        assert result["changed"] is True and result["action"] == "refreshed", result
    assert idp.counters()["token"] == 3
    secrets_absent(result, seed)
    # The server really rotates: the seed is dead now (and replaying it revokes the grant).
    replay = idp.refresh(seed, client_id="device-public")
    assert replay.json().get("error") == "invalid_grant"


def test_check_mode_writes_nothing_and_asks_nobody(run_module, idp, app_args):
    result = run_module(MODULE, app_args, check=True)
    assert result["changed"] is True and result["action"] == "acquired"
    assert not os.path.exists(app_args["path"]) and idp.counters()["total"] == 0
    run_module(MODULE, app_args)
    before = open(app_args["path"], "rb").read()
    idp.reset()
    result = run_module(MODULE, dict(app_args, state="refreshed"), check=True)
    assert result["changed"] is True and result["diff"]["before"]["username"] == "alice@example.test"
    assert open(app_args["path"], "rb").read() == before and idp.counters()["total"] == 0


def test_diff_shows_metadata_and_no_secret(run_module, app_args, stack):
    result = run_module(MODULE, app_args, diff=True)
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["client_id"] == "relay-app"
    secrets_absent(result, stack.clients["relay-app"])


def test_wrong_key_fails_and_leaves_the_file(run_module, app_args, key_text):
    run_module(MODULE, app_args)
    before = open(app_args["path"], "rb").read()
    other_key = __import__("base64").b64encode(os.urandom(32)).decode()
    result = run_module(MODULE, dict(app_args, encryption_key=other_key))
    assert result["failed"] is True and result["error_category"] == "storage"
    assert "different key" in result["msg"] and app_args["path"] in result["msg"]
    assert open(app_args["path"], "rb").read() == before
    assert "Traceback" not in result.raw


def test_tampered_file_is_detected(run_module, app_args):
    run_module(MODULE, app_args)
    data = json.load(open(app_args["path"]))
    data["meta"]["expires_at"] += 86400
    open(app_args["path"], "w").write(json.dumps(data))
    result = run_module(MODULE, app_args)
    assert result["failed"] is True and result["error_category"] == "storage"
    assert "modified or damaged" in result["msg"]


@pytest.mark.parametrize("provider", ["oidc", "microsoft"])
def test_two_server_errors_then_success(run_module, idp, app_args, provider):
    # With msal, this also proves its memory of 5xx answers does not swallow our retries.
    idp.fault(endpoint="token", mode="status", status=500, count=2)
    result = run_module(MODULE, dict(app_args, provider=provider))
    assert result["changed"] is True, result
    assert idp.counters()["token"] == 3


@pytest.mark.parametrize("provider", ["oidc", "microsoft"])
def test_retry_after_is_honoured(run_module, idp, app_args, provider):
    idp.fault(endpoint="token", mode="status", status=429, count=1, headers={"Retry-After": "2"},
              body={"error": "temporarily_unavailable", "error_description": "slow down"})
    started = time.monotonic()
    result = run_module(MODULE, dict(app_args, provider=provider))
    assert result["changed"] is True and idp.counters()["token"] == 2
    assert time.monotonic() - started >= 2.0  # a lower bound: the module waited as told


def test_retry_after_beyond_timeout_fails_at_once_as_temporary(run_module, idp, app_args):
    idp.fault(endpoint="token", mode="status", status=429, count=1, headers={"Retry-After": "120"},
              body={"error": "temporarily_unavailable"})
    result = run_module(MODULE, app_args)
    assert result["failed"] is True and result["error_category"] == "temporary"
    assert result["error_retry_after"] == 120 and idp.counters()["token"] == 1


def test_hung_server_ends_in_temporary_error_within_timeout(run_module, idp, app_args, tmp_path):
    run_module(MODULE, app_args)
    before = open(app_args["path"], "rb").read()
    idp.fault(endpoint="token", mode="hang", count=-1)
    # subprocess timeout: the module must end by itself well before this.
    result = run_module(MODULE, dict(app_args, state="refreshed", timeout=3), timeout=30)
    assert result["failed"] is True and result["error_category"] == "temporary", result
    assert open(app_args["path"], "rb").read() == before


def test_revoked_grant_needs_reauth_and_keeps_the_file(run_module, idp, delegated_args):
    run_module(MODULE, delegated_args)
    before = open(delegated_args["path"], "rb").read()
    idp.revoke(account="alice@example.test")
    result = run_module(MODULE, dict(delegated_args, state="refreshed"))
    assert result["failed"] is True and result["error_category"] == "reauth_required", result
    assert "sign in again" in result["msg"]
    assert open(delegated_args["path"], "rb").read() == before
    status = json.load(open(delegated_args["path"] + ".status"))
    assert status["state"] == "needs_reauth"


def test_bad_secret_is_a_configuration_error_naming_the_option(run_module, idp, app_args):
    result = run_module(MODULE, dict(app_args, client_secret="wrong"))
    assert result["failed"] is True and result["error_category"] == "configuration"
    assert "client_secret" in result["msg"] and "wrong" not in result.raw.replace('"wrong"', "")


@pytest.mark.parametrize("override, option", [
    (dict(client_secret=""), "client_secret"),
    (dict(provider="nope"), "provider"),
    (dict(encryption_key="c2hvcnQ="), "encryption_key"),
    (dict(encryption_key=None, encryption_key_file="/nonexistent/key"), "encryption_key_file"),
    (dict(mode="rw-r"), "mode"),
    (dict(authority="not-a-url"), "authority"),
])
def test_bad_input_names_the_option_and_writes_nothing(run_module, idp, app_args, override, option):
    args = dict(app_args)
    args.update(override)
    args = {k: v for k, v in args.items() if v is not None}
    result = run_module(MODULE, args)
    assert result["failed"] is True and option in result["msg"], result
    assert "Traceback" not in result.raw
    assert not os.path.exists(app_args["path"]) and idp.counters()["token"] == 0


def test_absent_removes_file_and_side_files(run_module, app_args):
    run_module(MODULE, app_args)
    run_module(MODULE, dict(app_args, state="refreshed"))
    result = run_module(MODULE, dict(path=app_args["path"], state="absent"))
    assert result["changed"] is True and result["action"] == "removed"
    folder = os.path.dirname(app_args["path"])
    assert not [n for n in os.listdir(folder) if n.startswith("mailbox.token")]
    assert run_module(MODULE, dict(path=app_args["path"], state="absent"))["changed"] is False


def test_twenty_processes_refresh_once(run_module, idp, app_args, tmp_path):
    # A short-lived token, then a long-lived one: the first process to refresh satisfies all others.
    idp.configure(client_credentials_ttl=60)
    run_module(MODULE, app_args)
    idp.configure(client_credentials_ttl=3600)
    baseline = idp.counters()["token"]
    args = dict(app_args, min_validity=300)
    procs = [subprocess.Popen(module_command(MODULE, args, tmp_path), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=module_env()) for dummy in range(20)]
    results = [parse_run(*proc.communicate(timeout=120)) for proc in procs]
    assert all(not r.get("failed") for r in results), [r for r in results if r.get("failed")][:1]
    assert idp.counters()["token"] - baseline == 1
    assert sorted(r["action"] for r in results).count("refreshed") + \
        sorted(r["action"] for r in results).count("acquired") == 1


def test_changed_settings_never_replay_a_redeemed_seed(run_module, idp, delegated_args):
    run_module(MODULE, delegated_args)
    changed = run_module(MODULE, dict(delegated_args, scopes=["mail.send", "mail.imap"]))
    assert changed["failed"] is True and changed["error_category"] == "configuration"
    assert "refresh_token" in changed["msg"] and idp.counters()["token"] == 1
    # the grant is still alive: a new mailbox name renews it with the stored refresh token
    renamed = run_module(MODULE, dict(delegated_args, username="alice.smith@example.test"))
    assert renamed["action"] == "refreshed" and renamed["username"] == "alice.smith@example.test", renamed


def test_new_mode_on_a_valid_token_applies_to_side_files(run_module, app_args):
    run_module(MODULE, app_args)
    run_module(MODULE, dict(app_args, state="refreshed"))
    result = run_module(MODULE, dict(app_args, mode="0640"))
    assert result["changed"] is True and result["action"] == "none"
    for suffix in ("", ".bak", ".status", ".lock"):
        assert stat.S_IMODE(os.stat(app_args["path"] + suffix).st_mode) == 0o640, suffix


def test_absent_diff_is_readable(run_module, app_args):
    run_module(MODULE, app_args)
    result = run_module(MODULE, dict(path=app_args["path"], state="absent"), diff=True)
    assert result["diff"]["before"]["username"] == "alice@example.test"
    assert result["diff"]["before"]["expires_at"].endswith("Z")
