# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Mail against the test stack: log in to Dovecot, read the INBOX, send through the upstream Postfix.

``MailHelpers`` is a part of ``Stack``: it reads the host, the ports and the
stack's ``ssl_context()``.
"""

from __future__ import annotations

import contextlib
import time

from stack_config import HOST


def sasl_initial(mechanism: str, account: str, token: str) -> str:
    """The SASL initial response (not base64) for XOAUTH2 or OAUTHBEARER."""
    if mechanism.upper() == "OAUTHBEARER":
        return f"n,a={account},\x01auth=Bearer {token}\x01\x01"
    return f"user={account}\x01auth=Bearer {token}\x01\x01"


def _answers(mechanism: str, account: str, token: str, after_failure):
    """A SASL callback: the initial response once, then ``after_failure`` (the empty answer to an error challenge)."""
    sent = []

    def answer(_challenge=None):
        if sent:
            return after_failure
        sent.append(True)
        response = sasl_initial(mechanism, account, token)
        return response.encode() if isinstance(after_failure, bytes) else response

    return answer


class MailHelpers:
    """IMAP and SMTP with XOAUTH2 (or OAUTHBEARER) against Dovecot and the upstream Postfix."""

    imap_port: int
    imaps_port: int
    submission_port: int

    def ssl_context(self):
        raise NotImplementedError

    def imap_login(self, account: str, token: str, port: int | None = None, tls: str = "starttls",
                   mechanism: str = "XOAUTH2"):
        """An imaplib connection logged in with XOAUTH2 (or OAUTHBEARER).
        tls: "starttls" (port 10143), "ssl" (10993) or "none". Raises
        imaplib.IMAP4.error when the server refuses the token."""
        import imaplib

        if tls == "ssl":
            conn = imaplib.IMAP4_SSL(HOST, port or self.imaps_port, ssl_context=self.ssl_context(), timeout=10)
        else:
            conn = imaplib.IMAP4(HOST, port or self.imap_port, timeout=10)
            if tls == "starttls":
                conn.starttls(ssl_context=self.ssl_context())
        try:
            # after a failure challenge: empty line to get the final NO
            conn.authenticate(mechanism, _answers(mechanism, account, token, b""))
        except Exception:
            with contextlib.suppress(Exception):
                conn.logout()
            raise
        return conn

    def imap_fetch_all(self, account: str, token: str, mailbox: str = "INBOX") -> list:
        """All messages of a mailbox as email.message.Message objects."""
        import email

        conn = self.imap_login(account, token)
        try:
            conn.select(mailbox, readonly=True)
            _typ, data = conn.search(None, "ALL")
            out = []
            for num in data[0].split():
                _typ, parts = conn.fetch(num, "(RFC822)")
                out.append(email.message_from_bytes(parts[0][1]))
            return out
        finally:
            with contextlib.suppress(Exception):
                conn.logout()

    def imap_count(self, account: str, token: str, subject_part: str) -> int:
        """How many INBOX messages have ``subject_part`` in their Subject (IMAP SEARCH, no download)."""
        conn = self.imap_login(account, token)
        try:
            conn.select("INBOX", readonly=True)
            data = conn.search(None, "SUBJECT", '"%s"' % subject_part)[1]
            return len(data[0].split())
        finally:
            conn.logout()

    def wait_for_message(self, account: str, token: str, subject: str, timeout: float = 10.0):
        """Poll the INBOX until a message with this Subject arrives; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            for msg in self.imap_fetch_all(account, token):
                if msg.get("Subject") == subject:
                    return msg
            if time.monotonic() > deadline:
                raise AssertionError(f"no message {subject!r} for {account} within {timeout}s")
            time.sleep(0.1)

    def smtp_send_xoauth2(self, account: str, token: str, to: str | None = None,
                          subject: str = "test", body: str = "hello\n", port: int | None = None,
                          starttls: bool = True, mechanism: str = "XOAUTH2") -> dict:
        """Send one message through the upstream Postfix with SASL XOAUTH2
        (or OAUTHBEARER) after STARTTLS. Returns smtplib's refused-recipients
        dict; raises smtplib.SMTPAuthenticationError when the token is refused."""
        import smtplib
        from email.message import EmailMessage

        msg = EmailMessage()
        msg["From"] = account
        msg["To"] = to or account
        msg["Subject"] = subject
        msg.set_content(body)
        with smtplib.SMTP(HOST, port or self.submission_port, local_hostname="client.example.test",
                          timeout=10) as smtp:
            if starttls:
                smtp.starttls(context=self.ssl_context())
            smtp.ehlo()
            smtp.auth(mechanism, _answers(mechanism, account, token, ""), initial_response_ok=True)
            return smtp.send_message(msg)
