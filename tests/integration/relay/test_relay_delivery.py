# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Delivery through the relay helper, read back over IMAP with XOAUTH2."""
from __future__ import annotations

import uuid

import pytest

import relay_support as rs

pytestmark = pytest.mark.integration


def test_delivery_read_back_over_imap(mail_stack, idp, start_relay):
    relay = start_relay()
    msg = rs.message("alice@example.test", "alice@example.test")
    assert rs.send(relay.port, "alice", "local-alice", msg) == {}
    got = rs.wait_for_subject(mail_stack, "alice@example.test", rs.fresh_token(idp), msg["Subject"])
    assert got.get_payload().strip() == "hello from the relay test"
    assert relay.wait_log(" message ", "upstream=\"250")


def test_several_messages_one_connection_login_and_faithful_body(mail_stack, idp, start_relay):
    relay = start_relay()
    body = ("line one\n.starts with a dot\n..two dots\n.\nnot the end\n" + "long " * 196 + "\n"  # 980 bytes: upstream LMTP folds at 998
            "8-bit: caf\u00e9 \u2014 \u00fcber\n").encode("utf-8")
    subjects = []
    with rs.smtp(relay.port) as client:
        client.ehlo()
        assert "8bitmime" in client.esmtp_features and "pipelining" in client.esmtp_features
        client.user, client.password = "alice", "local-alice"
        code, dummy = client.auth("LOGIN", client.auth_login, initial_response_ok=False)
        assert code == 235
        for dummy in range(3):
            subject = "relay-body-%s" % uuid.uuid4().hex
            subjects.append(subject)
            raw = ("From: alice@example.test\nTo: alice@example.test\nSubject: %s\nMIME-Version: 1.0\n"
                   "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" % subject
                   ).encode() + body
            raw = raw.replace(b"\n", b"\r\n")  # smtplib sends bytes as given; bare LFs are refused
            assert client.sendmail("alice@example.test", ["alice@example.test"], raw,
                                   mail_options=["BODY=8BITMIME"]) == {}
            assert client.rset()[0] == 250
    # all three went through one upstream AUTH (one introspection at the IdP; IMAP reads come after)
    assert idp.counters()["introspection"] == 1
    token = rs.fresh_token(idp)
    for subject in subjects:
        got = rs.wait_for_subject(mail_stack, "alice@example.test", token, subject)
        assert got.get_payload(decode=True).replace(b"\r\n", b"\n").rstrip(b"\n") == body.rstrip(b"\n")


def test_several_accounts_each_to_its_own_mailbox(mail_stack, idp, start_relay):
    relay = start_relay()
    sent = {}
    for account, mailbox in (("alice", "alice@example.test"), ("bob", "bob@example.test")):
        msg = rs.message(mailbox, mailbox)
        assert rs.send(relay.port, account, "local-" + account, msg, mechanism="PLAIN") == {}
        sent[mailbox] = msg["Subject"]
    # each account authenticated upstream once, with its own token
    assert idp.counters()["introspection"] == 2
    rs.wait_for_subject(mail_stack, "alice@example.test", rs.fresh_token(idp), sent["alice@example.test"])
    rs.wait_for_subject(mail_stack, "bob@example.test", rs.fresh_token(idp, "relay-app-bob"), sent["bob@example.test"])
    # and nothing crossed over: alice's inbox has no message meant for bob
    assert rs.imap_count(mail_stack, idp, "alice@example.test", sent["bob@example.test"]) == 0
    assert relay.wait_log("account=bob", "account=alice")
