# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bare newlines through the relay to the real upstream (Postfix, Dovecot): refused by default, normalised on request."""
from __future__ import annotations

import smtplib
import time
import uuid

import pytest

import relay_support as rs

pytestmark = pytest.mark.integration


def raw_message(subject, body):
    # bytes go out as given (smtplib fixes line endings of str messages only)
    return (b"From: alice@example.test\nTo: alice@example.test\nSubject: " + subject.encode()
            + b"\n\n" + body)


def test_a_message_with_bare_lf_is_refused_and_never_delivered(mail_stack, idp, start_relay):
    relay = start_relay()
    subject = "relay-bare-lf-%s" % uuid.uuid4().hex
    with rs.smtp(relay.port) as client:
        client.login("alice", "local-alice")
        with pytest.raises(smtplib.SMTPDataError) as info:
            client.sendmail("alice@example.test", ["alice@example.test"],
                            raw_message(subject, b"line\n.\r\nMAIL FROM:<evil@example.test>\r\nsmuggled\n"))
        assert info.value.smtp_code == 550 and b"bare <LF>" in info.value.smtp_error
        assert client.noop()[0] == 250  # the session goes on, in step with the client
    assert relay.wait_log(" message ", "bare <LF> (local)")
    time.sleep(1.0)  # give a wrongly delivered message time to arrive
    assert rs.imap_count(mail_stack, idp, "alice@example.test", subject) == 0


def test_normalize_mode_delivers_bare_lf_as_crlf(mail_stack, idp, start_relay):
    relay = start_relay(bare_newlines="normalize")
    subject = "relay-normalize-%s" % uuid.uuid4().hex
    body = b"first\n.dotted\n..two\nlast\n"
    with rs.smtp(relay.port) as client:
        client.login("alice", "local-alice")
        assert client.sendmail("alice@example.test", ["alice@example.test"], raw_message(subject, body)) == {}
    got = rs.wait_for_subject(mail_stack, "alice@example.test", rs.fresh_token(idp), subject)
    # (smtplib adds a CRLF after a message that does not end in one: an empty last line)
    assert got.get_payload(decode=True).replace(b"\r\n", b"\n").rstrip(b"\n") == body.rstrip(b"\n")
