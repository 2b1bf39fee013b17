# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Local AUTH and faithful relaying of upstream replies."""
from __future__ import annotations

import base64
import smtplib

import pytest

import relay_support as rs

pytestmark = pytest.mark.integration


def _plain(user, secret):
    return "PLAIN " + base64.b64encode(("\0%s\0%s" % (user, secret)).encode()).decode()


def test_mail_before_auth_is_530_and_bad_credentials_535(mail_stack, idp, start_relay):
    relay = start_relay()
    with rs.smtp(relay.port) as client:
        client.ehlo()
        assert client.docmd("MAIL", "FROM:<alice@example.test>")[0] == 530
        assert client.docmd("RCPT", "TO:<alice@example.test>")[0] == 503
        assert client.docmd("AUTH", _plain("alice", "local-bob"))[0] == 535
        assert client.docmd("AUTH", _plain("mallory", "local-alice"))[0] == 535
        assert client.docmd("MAIL", "FROM:<alice@example.test>")[0] == 530
    with rs.smtp(relay.port) as client:
        client.ehlo()
        assert client.docmd("AUTH", _plain("alice", ""))[0] == 535
        # the right secret of another account selects that account, never alice's
        assert client.docmd("AUTH", _plain("bob", "local-bob"))[0] == 235
        assert client.docmd("AUTH", _plain("alice", "local-alice"))[0] == 503
        assert client.docmd("MAIL", "FROM:<bob@example.test>")[0] == 250
    assert rs.wait_until(lambda: relay.log.count("auth_failed") == 3)
    assert "local-bob" not in relay.log and "local-alice" not in relay.log
    # only bob's upstream connection was ever authenticated
    assert idp.counters()["introspection"] == 1


def test_too_many_auth_failures_close_the_connection(mail_stack, start_relay):
    relay = start_relay()
    with rs.smtp(relay.port) as client:
        client.ehlo()
        codes = [client.docmd("AUTH", "PLAIN AGFsaWNlAHdyb25n")[0] for dummy in range(3)]
        assert codes == [535, 535, 421]
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.noop()


def test_upstream_5xx_for_an_unknown_recipient_is_passed_on(mail_stack, idp, start_relay):
    relay = start_relay()
    with rs.smtp(relay.port) as client:
        client.login("alice", "local-alice")
        client.mail("alice@example.test")
        code, text = client.rcpt("nobody@example.test")
        assert code == 550 and b"5.1.1" in text  # Postfix's own answer, unchanged
        assert client.rcpt("alice@example.test")[0] == 250
        assert client.data(b"Subject: partial\r\n\r\nhello\r\n")[0] == 250


def test_upstream_5xx_after_data_for_a_too_large_message(mail_stack, idp, start_relay):
    relay = start_relay()
    big = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 10500  # > Postfix's 10 MB limit
    with rs.smtp(relay.port) as client:
        client.login("alice", "local-alice")
        # no SIZE= given: the limit is found only after the data, by upstream
        assert client.docmd("MAIL", "FROM:<alice@example.test>")[0] == 250
        assert client.rcpt("alice@example.test")[0] == 250
        code, text = client.data(big)
        assert code == 552 and b"5.3.4" in text
        # with SIZE= upstream refuses the MAIL; its answer reaches the client with the RCPT
        # (MAIL and RCPT are pipelined upstream) and stands for every recipient
        assert client.docmd("MAIL", "FROM:<alice@example.test> SIZE=%d" % len(big))[0] == 250
        for dummy in range(2):
            code, text = client.rcpt("alice@example.test")
            assert code == 552 and b"5.3.4" in text
        assert client.docmd("DATA")[0] == 554
        # the connection is still usable afterwards
        client.rset()
        assert client.sendmail("alice@example.test", ["alice@example.test"], b"Subject: after\r\n\r\nok\r\n") == {}


def test_upstream_4xx_is_passed_on(mail_stack, idp, start_relay):
    # Postfix answers 452 4.5.3 past smtpd_recipient_limit (1000): a temporary refusal from upstream
    relay = start_relay(max_recipients=2000)
    with rs.smtp(relay.port) as client:
        client.login("alice", "local-alice")
        client.mail("alice@example.test")
        for dummy in range(1000):
            client.putcmd("RCPT", "TO:<alice@example.test>")
        codes = [client.getreply()[0] for dummy in range(1000)]
        assert set(codes) == {250}
        code, text = client.rcpt("alice@example.test")
        assert code == 452 and b"4.5.3" in text


def test_local_size_limit_gives_552(mail_stack, idp, start_relay):
    relay = start_relay(max_message_size=4096)
    with rs.smtp(relay.port) as client:
        client.ehlo()
        assert client.esmtp_features["size"] == "4096"
        client.login("alice", "local-alice")
        assert client.docmd("MAIL", "FROM:<alice@example.test> SIZE=5000")[0] == 552
        assert client.docmd("MAIL", "FROM:<alice@example.test>")[0] == 250
        client.rcpt("alice@example.test")
        assert client.data(b"Subject: big\r\n\r\n" + b"y" * 5000 + b"\r\n")[0] == 552
        assert client.sendmail("alice@example.test", ["alice@example.test"], b"Subject: small\r\n\r\nok\r\n") == {}


def test_no_token_over_plaintext(mail_stack, idp, relay_files, start_relay, tmp_path):
    accounts = [dict(relay_files["accounts"][0],
                     upstream={"host": "127.0.0.1", "port": mail_stack.submission_plain_port,
                               "security": "starttls", "ca_file": mail_stack.ca_file})]
    relay = start_relay(accounts=accounts)
    with rs.smtp(relay.port) as client:
        client.login("alice", "local-alice")
        code, text = client.docmd("MAIL", "FROM:<alice@example.test>")
        assert code == 454 and b"4.7.0" in text
    # the plaintext server never saw the token: no AUTH reached Dovecot, so no introspection
    assert idp.counters()["introspection"] == 0
    assert relay.wait_log("STARTTLS")


def test_unverified_upstream_certificate_is_refused(mail_stack, idp, relay_files, start_relay):
    accounts = [dict(relay_files["accounts"][0],
                     upstream={"host": "127.0.0.1", "port": mail_stack.submission_port, "security": "starttls"})]
    relay = start_relay(accounts=accounts)  # system CAs only: the test CA is not trusted
    with rs.smtp(relay.port) as client:
        client.login("alice", "local-alice")
        code, dummy = client.docmd("MAIL", "FROM:<alice@example.test>")
        assert code == 451
    assert idp.counters()["introspection"] == 0
    assert relay.wait_log("certificate verification failed")


def test_pipelined_commands_get_upstream_replies_in_order(mail_stack, idp, start_relay):
    import socket
    relay = start_relay()
    sock = socket.create_connection(("127.0.0.1", relay.port), timeout=30)
    reader = sock.makefile("rb")

    def reply():
        lines = []
        while True:
            line = reader.readline().decode()
            lines.append(line)
            if line[3:4] != "-":
                return int(line[:3]), "".join(lines)

    assert reply()[0] == 220
    sock.sendall(b"EHLO pipe.example.test\r\n" + ("AUTH %s\r\n" % _plain("alice", "local-alice")).encode())
    assert reply()[0] == 250 and reply()[0] == 235
    sock.sendall(b"MAIL FROM:<alice@example.test> BODY=8BITMIME\r\nRCPT TO:<nobody@example.test>\r\n"
                 b"RCPT TO:<alice@example.test>\r\nDATA\r\n")
    codes = [reply()[0] for dummy in range(4)]
    assert codes == [250, 550, 250, 354]
    sock.sendall(b"Subject: pipelined\r\n\r\nbody\r\n.\r\nQUIT\r\n")
    assert reply()[0] == 250 and reply()[0] == 221
    sock.close()


def test_local_starttls_when_a_certificate_is_configured(mail_stack, idp, start_relay):
    relay = start_relay(tls_cert_file=mail_stack.cert_file, tls_key_file=mail_stack.key_file)
    with rs.smtp(relay.port) as client:
        client.ehlo()
        assert "starttls" in client.esmtp_features
        client.starttls(context=mail_stack.ssl_context())
        client.ehlo()
        assert "starttls" not in client.esmtp_features
        client.login("alice", "local-alice")
        assert client.sendmail("alice@example.test", ["alice@example.test"], b"Subject: tls\r\n\r\nok\r\n") == {}
