# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""IMAP/SMTP XOAUTH2 login logic without a mail server: hints, scrubbing, and never a token in clear."""
from __future__ import annotations

import socket
import threading

from ansible_collections.xoauth2.mail.plugins.module_utils._mail_login import (
    REFUSED_HINT, _scrub, check_login, smtp_hint, status_hint)
from ansible_collections.xoauth2.mail.plugins.module_utils._xoauth2 import xoauth2_initial_response

TOKEN = "secret-access-token-value"


def test_microsoft_smtp_replies_get_specific_hints():
    assert "SMTP AUTH is disabled" in smtp_hint(535, "535 5.7.139 Authentication unsuccessful", None)
    assert "mailbox" in smtp_hint(430, "430 4.2.0 STOREDRV.Submission.Exception", None).lower()
    assert "min_validity" in smtp_hint(501, "501 5.5.127 Token will expire soon", None)
    assert smtp_hint(535, "535 5.7.8 Error: authentication failed", None) == REFUSED_HINT
    assert "temporary" in smtp_hint(454, "454 4.7.0 Try again", None)


def test_google_status_names_the_expected_scope():
    hint = status_hint({"status": "400", "schemes": "Bearer", "scope": "https://mail.google.com/"})
    assert "https://mail.google.com/" in hint
    assert status_hint(None) is None


def test_scrub_removes_token_and_sasl_string():
    sasl = xoauth2_initial_response("a@b", TOKEN)
    text = _scrub("server said %s and %s" % (TOKEN, sasl), TOKEN, "a@b")
    assert TOKEN not in text and sasl not in text


class PlainSmtpServer(threading.Thread):
    """A plaintext SMTP server that offers AUTH but no STARTTLS, and records everything it receives."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.received = b""

    def run(self):
        conn, dummy = self.sock.accept()
        conn.settimeout(5)
        conn.sendall(b"220 plain.test ESMTP\r\n")
        try:
            while True:
                data = conn.recv(4096)
                if not data:
                    break
                self.received += data
                for line in data.split(b"\r\n"):
                    if line.upper().startswith(b"EHLO"):
                        conn.sendall(b"250-plain.test\r\n250-AUTH XOAUTH2 PLAIN\r\n250 8BITMIME\r\n")
                    elif line.upper().startswith(b"QUIT"):
                        conn.sendall(b"221 bye\r\n")
                        return
                    elif line:
                        conn.sendall(b"235 2.7.0 accepted anything\r\n")
        except OSError:
            pass
        finally:
            conn.close()
            self.sock.close()


def test_smtp_without_starttls_is_refused_before_the_token_is_sent():
    server = PlainSmtpServer()
    server.start()
    result = check_login("smtp", "127.0.0.1", server.port, "starttls", "a@b", TOKEN, timeout=5)
    server.join(5)
    assert result.authenticated is False and result.token_sent is False
    assert result.error_category == "configuration" and "STARTTLS" in result.message
    assert b"AUTH" not in server.received.upper().replace(b"EHLO", b"")
    assert TOKEN.encode() not in server.received
    assert xoauth2_initial_response("a@b", TOKEN).encode() not in server.received


def test_unreachable_server_is_temporary():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    for protocol in ("smtp", "imap"):
        result = check_login(protocol, "127.0.0.1", port, "tls", "a@b", TOKEN, timeout=3)
        assert result.authenticated is False and result.error_category == "temporary", result
        assert result.token_sent is False and TOKEN not in (result.message or "")
