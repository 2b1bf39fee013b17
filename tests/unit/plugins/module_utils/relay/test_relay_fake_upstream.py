# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The relay against a scriptable upstream: pooling, replay on a dead connection, token refusal, TLS rules."""
from __future__ import annotations

import smtplib

import pytest

from fake_upstream import InProcessRelay
from test_relay_tokens_unit import FakeSession


@pytest.fixture
def relay(tmp_path):
    instance = InProcessRelay(tmp_path)
    yield instance
    instance.close()


def send(port, body=b"Subject: t\r\n\r\nhello\r\n"):
    with smtplib.SMTP("127.0.0.1", port, local_hostname="c.example.test", timeout=20) as client:
        client.login("alice", "pw")
        return client.sendmail("alice@example.test", ["bob@example.test"], body)


def test_one_upstream_connection_serves_many_client_connections(relay):
    for dummy in range(5):
        assert send(relay.port) == {}
    up = relay.upstream
    assert up.connections == 1 and up.auths == ["at-1"] and len(up.messages) == 5
    assert up.messages[0][0] == "MAIL FROM:<alice@example.test> SIZE=21"  # SIZE passed on: upstream offers it
    assert up.messages[0][1] == ["RCPT TO:<bob@example.test>"]


@pytest.mark.parametrize("with_421", [False, True])
@pytest.mark.parametrize("pipelining", [True, False])
def test_a_pooled_connection_found_dead_is_replaced_transparently(relay, with_421, pipelining):
    relay.upstream.pipelining = pipelining
    assert send(relay.port) == {}
    relay.upstream.drop_on_next_mail = True  # looks alive in the pool, dies when used
    relay.upstream.drop_with_421 = with_421  # (a server timing out an idle connection says 421 first)
    assert send(relay.port) == {}
    assert relay.upstream.connections == 2 and len(relay.upstream.messages) == 2


def test_a_refused_token_is_renewed_once_and_the_error_challenge_answered(relay, tmp_path):
    keeper = relay.relay.keepers["alice"]
    relay.call(keeper.token())  # loaded from the token file
    keeper.session = FakeSession(keeper.session.token_file)  # renewals give at-1, at-2...
    relay.upstream.valid_tokens = {"at-1"}
    keeper.record.secrets["access_token"] = "at-0"  # what the relay holds is refused upstream
    assert send(relay.port) == {}
    assert relay.upstream.auths == ["at-0", "at-1"]
    assert relay.upstream.empty_answers == 1
    assert keeper.session.calls == [True]


def test_a_token_refused_twice_gives_454(relay):
    keeper = relay.relay.keepers["alice"]
    keeper.session = FakeSession(keeper.session.token_file)
    relay.upstream.valid_tokens = set()
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        send(relay.port)
    assert refused.value.smtp_code == 454
    assert len(relay.upstream.auths) == 2 and relay.upstream.messages == []


def test_no_starttls_no_token(relay):
    relay.upstream.starttls = False
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        send(relay.port)
    assert refused.value.smtp_code == 454
    assert relay.upstream.auths == [] and "AUTH" not in relay.upstream.commands


def test_upstream_replies_pass_through(relay):
    relay.upstream.data_reply = "451 4.3.0 try again later"
    with pytest.raises(smtplib.SMTPDataError) as error:
        send(relay.port)
    assert error.value.smtp_code == 451 and b"4.3.0" in error.value.smtp_error
    relay.upstream.data_reply = "554 5.7.1 rejected by policy"
    with pytest.raises(smtplib.SMTPDataError) as error:
        send(relay.port)
    assert error.value.smtp_code == 554


def test_without_upstream_pipelining_mail_is_answered_live(relay):
    relay.upstream.pipelining = False
    relay.upstream.mail_reply = "553 5.7.1 sender not allowed"
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        send(relay.port)
    assert refused.value.smtp_code == 553


def test_with_pipelining_a_sender_refusal_reaches_each_recipient(relay):
    relay.upstream.mail_reply = "553 5.7.1 sender not allowed"
    with smtplib.SMTP("127.0.0.1", relay.port, local_hostname="c.example.test", timeout=20) as client:
        client.login("alice", "pw")
        assert client.mail("alice@example.test")[0] == 250
        assert client.rcpt("bob@example.test")[0] == 553
        assert client.rcpt("carol@example.test")[0] == 553
        assert client.docmd("DATA")[0] == 554
        client.rset()
        relay.upstream.mail_reply = "250 2.1.0 Ok"
        assert client.sendmail("alice@example.test", ["bob@example.test"], b"Subject: x\r\n\r\ny\r\n") == {}
    assert len(relay.upstream.messages) == 1


def test_implicit_tls_upstream(tmp_path):
    instance = InProcessRelay(tmp_path, security="tls")
    try:
        assert send(instance.port) == {}
        assert send(instance.port) == {}
        up = instance.upstream
        assert "STARTTLS" not in up.commands and up.auths == ["at-1"] and len(up.messages) == 2
    finally:
        instance.close()


def test_an_untrusted_upstream_certificate_gets_no_token(tmp_path):
    instance = InProcessRelay(tmp_path)
    try:
        other_ca = tmp_path / "other"
        other_ca.mkdir()
        from fake_upstream import self_signed
        cert_file, dummy = self_signed(str(other_ca))
        from ansible_collections.xoauth2.mail.plugins.module_utils._relay.upstream import make_ssl_context
        instance.relay.pools["alice"].context = make_ssl_context(cert_file)
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            send(instance.port)
        assert refused.value.smtp_code == 451
        assert instance.upstream.auths == []
    finally:
        instance.close()
