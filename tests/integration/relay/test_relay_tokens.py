# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tokens: provider outages, revoked grants, refused tokens, single-flight renewal."""
from __future__ import annotations

import json
import threading
import uuid

import pytest

import relay_support as rs

pytestmark = pytest.mark.integration


def _expiring(mail_stack, idp, relay_files, index=0, client_id="relay-app"):
    """Replace an account's token by one that lives 300 s (< min_validity 600), then restore TTLs."""
    idp.configure(client_credentials_ttl=300)
    record = rs.make_token(mail_stack, relay_files["accounts"][index]["token_file"], relay_files["key"],
                           client_id, force=True)
    assert record.seconds_left(record.meta["obtained_at"]) <= 300
    idp.reset()


def test_provider_down_gives_4xx_then_delivery_after_recovery(mail_stack, idp, relay_files, start_relay):
    _expiring(mail_stack, idp, relay_files)
    idp.fault("token", mode="status", status=503)
    relay = start_relay()
    msg = rs.message("alice@example.test", "alice@example.test")
    with rs.smtp(relay.port) as client:
        client.login("alice", "local-alice")
        code, text = client.docmd("MAIL", "FROM:<alice@example.test>")
        assert code == 454 and b"4.7.0" in text
    assert idp.counters()["token"] >= 1
    idp.clear_faults()
    assert rs.send(relay.port, "alice", "local-alice", msg) == {}
    rs.wait_for_subject(mail_stack, "alice@example.test", rs.fresh_token(idp), msg["Subject"])
    assert relay.wait_log("token_failed", "category=temporary", "token_renewed")


def test_revoked_grant_gives_4xx_and_needs_reauth_in_status(mail_stack, idp, relay_files, start_relay):
    alice = relay_files["accounts"][0]
    rs.make_delegated_token(mail_stack, idp, alice["token_file"], relay_files["key"])
    idp.revoke(account="alice@example.test")
    idp.reset()
    relay = start_relay()
    with rs.smtp(relay.port) as client:
        client.login("alice", "local-alice")
        code, text = client.docmd("MAIL", "FROM:<alice@example.test>")
        assert code == 454 and b"sign-in required" in text
    # upstream refused the revoked token, the relay tried one refresh, which said invalid_grant
    assert idp.counters()["token_by_grant_type"] == {"refresh_token": 1}
    result = rs.relay_cli(relay_files["config"], "status", "--json")
    assert result.returncode == 2, result
    report = json.loads(result.stdout)
    states = {a["account"]: a["state"] for a in report["accounts"]}
    assert states == {"alice": "needs_reauth", "bob": "valid"}
    text = rs.relay_cli(relay_files["config"], "status")
    assert text.returncode == 2 and b"CRITICAL" in text.stdout and b"needs_reauth" in text.stdout
    # bob is unaffected
    assert rs.send(relay.port, "bob", "local-bob", rs.message("bob@example.test", "bob@example.test")) == {}


def test_refused_token_is_renewed_once_and_the_message_goes(mail_stack, idp, relay_files, start_relay):
    relay = start_relay()
    idp.revoke(client_id="relay-app")  # the relay's in-memory token is now dead upstream
    idp.reset()
    msg = rs.message("alice@example.test", "alice@example.test")
    assert rs.send(relay.port, "alice", "local-alice", msg) == {}
    assert idp.counters()["token"] == 1
    assert relay.wait_log("upstream_auth_refused")
    rs.wait_for_subject(mail_stack, "alice@example.test", rs.fresh_token(idp), msg["Subject"])


def test_fifty_concurrent_sessions_with_an_expiring_token_make_one_request(mail_stack, idp, relay_files,
                                                                           start_relay):
    """Two relay processes on one token file, 25 sessions each, while the renewal is slow."""
    _expiring(mail_stack, idp, relay_files)
    idp.fault("token", mode="delay", delay_ms=1500, count=-1)
    relays = [start_relay(), start_relay()]
    barrier = threading.Barrier(50)
    results, errors = [], []
    tags = ["fifty-%s-" % uuid.uuid4().hex for _relay in relays]

    def one(index):
        relay = relays[index % 2]
        msg = rs.message("alice@example.test", "alice@example.test", subject="%s%d" % (tags[index % 2], index))
        try:
            with rs.smtp(relay.port, timeout=60) as client:
                client.login("alice", "local-alice")
                barrier.wait(30)
                results.append(client.send_message(msg))
        except Exception as exc:  # collected and asserted below
            errors.append(repr(exc))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == [] and results == [{}] * 50
    assert idp.counters()["token"] == 1
    idp.clear_faults()
    for tag in tags:  # each relay process delivered its 25
        assert rs.wait_until(lambda tag=tag: rs.imap_count(mail_stack, idp, "alice@example.test", tag) == 25, timeout=60,
                             interval=0.3)


def test_cli_refresh_check_status_and_metrics(mail_stack, idp, relay_files, start_relay, tmp_path):
    config = relay_files["config"]
    metrics = tmp_path / "relay.prom"
    relay = start_relay(metrics_file=str(metrics), metrics_interval=1)
    assert rs.send(relay.port, "alice", "local-alice", rs.message("alice@example.test", "alice@example.test")) == {}
    status = rs.relay_cli(config, "status", "--json")
    assert status.returncode == 0, status
    assert {a["state"] for a in json.loads(status.stdout)["accounts"]} == {"valid"}
    refreshed = rs.relay_cli(config, "refresh", "alice")
    assert refreshed.returncode == 0 and b"alice" in refreshed.stdout
    assert idp.counters()["token"] == 1
    checked = rs.relay_cli(config, "check", "bob")
    assert checked.returncode == 0 and checked.stdout.startswith(b"OK"), checked
    missing = rs.relay_cli(config, "check", "carol")
    assert missing.returncode == 2
    text = rs.wait_until(lambda: metrics.exists() and 'messages_relayed_total{account="alice"} 1'
                         in metrics.read_text() and metrics.read_text())
    assert text and 'xoauth2_relay_token_seconds_to_expiry{account="alice"}' in text
    relay.stop()  # the whole log, for the leak check
    for secret in (mail_stack.clients["relay-app"], "local-alice"):
        assert secret not in relay.log and secret not in text
        assert secret.encode() not in status.stdout + refreshed.stdout + checked.stdout
