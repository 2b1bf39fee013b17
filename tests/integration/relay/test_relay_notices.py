# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The relay's notices: a revoked grant (real IdP) -> one notice however many messages; a new sign-in -> one recovery."""
from __future__ import annotations

import json
import time

import pytest

import relay_support as rs
from notice_receiver import CommandRecorder, WebhookReceiver
from ansible_collections.xoauth2.mail.plugins.module_utils._session import TokenSession
from ansible_collections.xoauth2.mail.plugins.module_utils._settings import TokenSettings
from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile
from ansible_collections.xoauth2.mail.plugins.module_utils._providers import create_provider

pytestmark = pytest.mark.integration

WEBHOOK_TOKEN = "relay-webhook-token-never-logged"


@pytest.fixture
def webhook(mail_stack):
    receiver = WebhookReceiver(mail_stack.cert_file, mail_stack.key_file, path="/hook/s3cret-path")
    yield receiver
    receiver.close()


def _notify(recorder, webhook, stack):
    return {"command": [recorder.script], "webhook_url": webhook.url, "webhook_ca_file": stack.ca_file,
            "webhook_token": WEBHOOK_TOKEN, "timeout": 10, "retry_interval": 1,
            "fix": "Run the AWX job template 'Mail re-authentication' with account={account}"}


def _reseed(stack, idp, path, key):
    """A new sign-in, as the module does it on the host (a process without notice settings)."""
    minted = idp.mint(client_id="device-public", account="alice@example.test", scope="openid offline_access mail.send")
    settings = TokenSettings(provider="oidc", authority=stack.issuer, client_id="device-public",
                             refresh_token=minted["refresh_token"], username="alice@example.test",
                             ca_path=stack.ca_file, timeout=10, retries=0)
    TokenSession(settings, TokenFile(path, key), provider_factory=create_provider).ensure_valid(600)
    return minted


def _mail_from(port):
    with rs.smtp(port) as client:
        client.login("alice", "local-alice")
        return client.docmd("MAIL", "FROM:<alice@example.test>")


def test_revoked_grant_one_notice_then_one_recovery_after_a_new_sign_in(
        mail_stack, idp, relay_files, start_relay, webhook, tmp_path):
    alice = relay_files["accounts"][0]
    rs.make_delegated_token(mail_stack, idp, alice["token_file"], relay_files["key"])
    recorder = CommandRecorder(tmp_path / "command")
    idp.revoke(account="alice@example.test")
    relay = start_relay(notify=_notify(recorder, webhook, mail_stack))
    for attempt in range(3):  # several messages, each refused: one notice
        code, text = _mail_from(relay.port)
        assert code == 454 and b"sign-in required" in text
    assert len(recorder.wait(1)) == 1 and len(webhook.wait(1)) == 1
    assert relay.wait_log("notice_sent account=alice state=needs_reauth channel=command",
                          "notice_sent account=alice state=needs_reauth channel=webhook")
    env, body = recorder.runs[0], webhook.delivered[0]
    assert env["XOAUTH2_ACCOUNT"] == body["account"] == "alice"
    assert env["XOAUTH2_STATE"] == body["state"] == "needs_reauth"
    assert body["fix"].startswith("Run the AWX job template 'Mail re-authentication' with account=alice")
    assert webhook.requests[0]["headers"]["Authorization"] == "Bearer " + WEBHOOK_TOKEN

    minted = _reseed(mail_stack, idp, alice["token_file"], relay_files["key"])
    # the relay's periodic check sends the recovery recorded by the re-seeding process
    assert len(recorder.wait(2)) == 2 and len(webhook.wait(2)) == 2
    assert recorder.runs[1]["XOAUTH2_STATE"] == webhook.delivered[1]["state"] == "valid"
    assert webhook.delivered[1]["previous_state"] == "needs_reauth"
    # and the relay picks up the new token file: mail flows again (after its failure backoff)
    msg = rs.message("alice@example.test", "alice@example.test")
    assert rs.wait_until(lambda: _try_send(relay.port, msg), timeout=30)
    rs.wait_for_subject(mail_stack, "alice@example.test", rs.fresh_token(idp), msg["Subject"])
    time.sleep(2)  # two more periodic checks: nothing is sent twice
    assert len(recorder.runs) == 2 and len(webhook.delivered) == 2
    for secret in (WEBHOOK_TOKEN, "s3cret-path", minted["refresh_token"]):
        assert secret not in relay.log
        assert secret not in json.dumps(recorder.runs)


def _try_send(port, msg):
    try:
        return rs.send(port, "alice", "local-alice", msg) == {}
    except Exception:  # 454 while the relay still backs off
        return False


def test_webhook_down_is_retried_until_delivered_and_the_command_runs_once(
        mail_stack, idp, relay_files, start_relay, webhook, tmp_path):
    alice = relay_files["accounts"][0]
    rs.make_delegated_token(mail_stack, idp, alice["token_file"], relay_files["key"])
    recorder = CommandRecorder(tmp_path / "command")
    webhook.answers = [503, 500]
    idp.revoke(account="alice@example.test")
    relay = start_relay(notify=_notify(recorder, webhook, mail_stack))
    assert _mail_from(relay.port)[0] == 454
    assert len(webhook.wait(1, timeout=60)) == 1  # refused twice, then accepted (retried 1 s, then 2 s later)
    assert [r["status"] for r in webhook.requests] == [503, 500, 200]
    assert len(recorder.runs) == 1  # delivered the first time: never repeated
    assert relay.wait_log("notice_failed account=alice state=needs_reauth channel=webhook")
    status = json.load(open(alice["token_file"] + ".status"))
    assert status["notice"]["announced"] == "needs_reauth" and "pending" not in status["notice"]


def test_bad_notify_section_is_refused_at_load(relay_files, tmp_path):
    path = rs.write_config(str(tmp_path / "bad.json"), relay_files["accounts"],
                           notify={"webhook_url": "http://127.0.0.1/hook?token=abc"})
    result = rs.relay_cli(path, "status")
    assert result.returncode != 0
    assert b"notify.webhook_url" in result.stderr + result.stdout and b"token=abc" not in result.stderr + result.stdout
