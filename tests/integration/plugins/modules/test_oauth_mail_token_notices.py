# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""oauth_mail_token notices: the real IdP revokes a grant, a real command and a real HTTPS webhook are told once."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from module_runner import module_command, module_env, parse_run

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "relay"))
from notice_receiver import CommandRecorder, WebhookReceiver  # noqa: E402

pytestmark = pytest.mark.integration

MODULE = "oauth_mail_token"
WEBHOOK_TOKEN = "eda-webhook-token-not-to-be-shown"


@pytest.fixture
def webhook(stack):
    receiver = WebhookReceiver(stack.cert_file, stack.key_file)
    yield receiver
    receiver.close()


@pytest.fixture
def recorder(tmp_path):
    return CommandRecorder(tmp_path / "command")


@pytest.fixture
def args(stack, idp, key_text, token_path, webhook, recorder):
    minted = idp.mint(client_id="device-public", account="alice@example.test", scope="openid offline_access mail.send")
    return dict(path=token_path, provider="oidc", authority=stack.issuer, client_id="device-public",
                refresh_token=minted["refresh_token"], username="alice@example.test", encryption_key=key_text,
                ca_path=stack.ca_file, timeout=10, retries=0, notify_command=[recorder.script],
                notify_webhook_url=webhook.url + "?secret=in-query", notify_webhook_token=WEBHOOK_TOKEN,
                notify_webhook_ca_path=stack.ca_file, notify_timeout=10, notify_account="alice")


def _no_secret(texts, *secrets):
    for text in texts:
        for secret in secrets:
            assert secret not in text


def test_revoked_grant_gives_one_notice_and_a_reseed_one_recovery(
        run_module, idp, args, webhook, recorder, token_path):
    first = run_module(MODULE, args)
    assert first["action"] == "acquired", first
    assert recorder.runs == [] and webhook.requests == []  # a first token is no change of state

    idp.revoke(account="alice@example.test")
    for attempt in range(3):  # the failure repeats: still one notice
        failed = run_module(MODULE, dict(args, state="refreshed"))
        assert failed.get("failed") and failed["error_category"] == "reauth_required", failed
    runs, posts = recorder.runs, webhook.delivered
    assert len(runs) == 1 and len(posts) == 1, (runs, posts)
    env, body = runs[0], posts[0]
    assert env["XOAUTH2_STATE"] == body["state"] == "needs_reauth"
    assert env["XOAUTH2_PREVIOUS_STATE"] == body["previous_state"] == "valid"
    assert env["XOAUTH2_CATEGORY"] == body["category"] == "reauth_required"
    assert env["XOAUTH2_ACCOUNT"] == body["account"] == "alice"
    assert env["XOAUTH2_TOKEN_FILE"] == body["token_file"] == token_path
    assert body["username"] == "alice@example.test" and body["code"] == "invalid_grant"
    assert token_path in body["fix"] and "refresh_token" in body["fix"] and "recovery notice" in body["fix"]
    assert "\n" not in env["XOAUTH2_HINT"] and env["XOAUTH2_HINT"]
    assert webhook.requests[0]["headers"]["Authorization"] == "Bearer " + WEBHOOK_TOKEN
    assert webhook.requests[0]["path"] == "/endpoint?secret=in-query"

    # a new sign-in (a new grant seeded): exactly one recovery notice
    minted = idp.mint(client_id="device-public", account="alice@example.test", scope="openid offline_access mail.send")
    again = run_module(MODULE, dict(args, refresh_token=minted["refresh_token"]))
    assert again["action"] == "acquired", again
    kept = run_module(MODULE, dict(args, refresh_token=minted["refresh_token"]))
    assert kept["action"] == "none", kept
    runs, posts = recorder.runs, webhook.delivered
    assert len(runs) == 2 and len(posts) == 2, (runs, posts)
    assert runs[1]["XOAUTH2_STATE"] == posts[1]["state"] == "valid"
    assert runs[1]["XOAUTH2_KIND"] == posts[1]["kind"] == "recovered"
    assert posts[1]["previous_state"] == "needs_reauth"

    status = json.load(open(token_path + ".status"))
    assert status["notice"]["announced"] == "valid" and "pending" not in status["notice"]
    # no secret anywhere a notice went, nor in the module's output
    secrets = [minted["refresh_token"], args["refresh_token"], WEBHOOK_TOKEN, "secret=in-query"]
    _no_secret([r["raw"].decode() for r in webhook.requests], *secrets[:2])
    _no_secret([json.dumps(run) for run in recorder.runs], *secrets)
    _no_secret([first.raw, failed.raw, again.raw, kept.raw], *secrets)


def test_concurrent_failing_runs_send_exactly_one_notice(idp, args, webhook, recorder, tmp_path):
    """Four module processes renew the revoked grant at once: each records needs_reauth, one notice goes out."""
    def start(arguments):
        return subprocess.Popen(module_command(MODULE, arguments, tmp_path), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=module_env())

    proc = start(args)
    assert parse_run(*proc.communicate(timeout=120))["action"] == "acquired"
    idp.revoke(account="alice@example.test")
    procs = [start(dict(args, state="refreshed")) for _process in range(4)]
    results = [parse_run(*p.communicate(timeout=120)) for p in procs]
    assert all(r["error_category"] == "reauth_required" for r in results), results
    assert len(recorder.runs) == 1 and len(webhook.delivered) == 1


def test_failed_command_never_fails_a_renewal_and_is_retried(run_module, idp, args, stack, token_path, tmp_path):
    """A notice that cannot be sent: a warning, the renewal saved; kept pending for a later attempt."""
    failing = CommandRecorder(tmp_path / "failing", exit_code=3)
    arguments = dict(args, notify_command=[failing.script], notify_webhook_url=None)
    assert run_module(MODULE, arguments)["action"] == "acquired"
    idp.revoke(account="alice@example.test")
    failed = run_module(MODULE, dict(arguments, state="refreshed"))
    assert failed["error_category"] == "reauth_required"
    assert len(failing.runs) == 1
    pending = json.load(open(token_path + ".status"))["notice"]["pending"]
    assert pending["state"] == "needs_reauth" and pending["attempts"] == 1 and "exited with 3" in pending["last_problem"]
    assert pending["next_attempt_at"] > pending["last_attempt_at"]
    # the person signs in again before the retry: nobody was told of the problem, so no recovery notice either
    minted = idp.mint(client_id="device-public", account="alice@example.test", scope="openid offline_access mail.send")
    ok = run_module(MODULE, dict(arguments, refresh_token=minted["refresh_token"]))
    assert ok["action"] == "acquired" and not ok.get("warnings"), ok
    assert len(failing.runs) == 1
    assert "pending" not in json.load(open(token_path + ".status"))["notice"]


def test_bad_notice_options_are_refused_before_anything_is_written(run_module, args, token_path):
    relative = run_module(MODULE, dict(args, notify_command=["notice.sh"]))
    assert relative["failed"] and relative["error_option"] == "notify_command" and "absolute" in relative["msg"]
    plain = run_module(MODULE, dict(args, notify_webhook_url="http://127.0.0.1:1/hook?key=s3cr3t-key"))
    assert plain["failed"] and plain["error_option"] == "notify_webhook_url" and "https://" in plain["msg"]
    assert "s3cr3t-key" not in plain.raw
    assert not os.path.exists(token_path)


def test_recovery_whose_notice_fails_is_still_a_successful_renewal(run_module, idp, args, tmp_path, token_path):
    good = CommandRecorder(tmp_path / "good")
    arguments = dict(args, notify_command=[good.script], notify_webhook_url=None)
    run_module(MODULE, arguments)
    idp.revoke(account="alice@example.test")
    run_module(MODULE, dict(arguments, state="refreshed"))
    assert [r["XOAUTH2_STATE"] for r in good.runs] == ["needs_reauth"]
    # the recovery's notice cannot be sent (the command now fails): the new token is saved all the same
    broken = CommandRecorder(tmp_path / "broken", exit_code=1)
    minted = idp.mint(client_id="device-public", account="alice@example.test", scope="openid offline_access mail.send")
    ok = run_module(MODULE, dict(arguments, refresh_token=minted["refresh_token"], notify_command=[broken.script]))
    assert not ok.get("failed") and ok["action"] == "acquired", ok
    assert "notice for" in json.dumps(ok["warnings"]) and "was not sent" in json.dumps(ok["warnings"]), ok
    assert len(broken.runs) == 1
    assert json.load(open(token_path + ".status"))["notice"]["pending"]["state"] == "valid"


def test_webhook_certificate_is_verified(stack, webhook, tmp_path):
    """Without the CA that signed the receiver's certificate, the notice is not delivered (and nothing is sent)."""
    from ansible_collections.xoauth2.mail.plugins.module_utils._notify import NoticeSettings, post_webhook
    problem = post_webhook(NoticeSettings(webhook_url=webhook.url, timeout=10), {"state": "needs_reauth"})
    assert problem and "CERTIFICATE_VERIFY_FAILED" in problem and webhook.requests == []
    assert post_webhook(NoticeSettings(webhook_url=webhook.url, webhook_ca_path=stack.ca_file, timeout=10),
                        {"state": "needs_reauth"}) is None
    assert len(webhook.delivered) == 1
