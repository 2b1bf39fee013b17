# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fetch one message over IMAP with SASL XOAUTH2 and print it (the demo's last step).

  show_mail.py HOST PORT CA_FILE MAILBOX SUBJECT [TIMEOUT]    (the access token on stdin)

STARTTLS first, then AUTHENTICATE XOAUTH2; waits until a message with that Subject is in the INBOX.
Standard library only; the token is never printed.
"""

from __future__ import annotations

import email
import imaplib
import ssl
import sys
import time


def fetch(host, port, ca_file, mailbox, token, subject):
    conn = imaplib.IMAP4(host, port, timeout=15)
    try:
        conn.starttls(ssl_context=ssl.create_default_context(cafile=ca_file))
        initial = "user=%s\x01auth=Bearer %s\x01\x01" % (mailbox, token)
        sent = []

        def answer(_challenge):
            if sent:
                return b""  # after an error challenge: an empty line gets the final NO
            sent.append(True)
            return initial.encode()

        conn.authenticate("XOAUTH2", answer)
        conn.select("INBOX", readonly=True)
        _typ, data = conn.search(None, "SUBJECT", '"%s"' % subject)
        numbers = data[0].split()
        if not numbers:
            return None
        _typ, parts = conn.fetch(numbers[-1], "(RFC822)")
        return email.message_from_bytes(parts[0][1])
    finally:
        try:
            conn.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


def main(argv):
    host, port, ca_file, mailbox, subject = argv[0], int(argv[1]), argv[2], argv[3], argv[4]
    timeout = float(argv[5]) if len(argv) > 5 else 60.0
    token = sys.stdin.readline().strip()
    deadline = time.monotonic() + timeout
    message = fetch(host, port, ca_file, mailbox, token, subject)
    while message is None and time.monotonic() < deadline:
        time.sleep(0.5)
        message = fetch(host, port, ca_file, mailbox, token, subject)
    if message is None:
        sys.stderr.write("no message %r in %s's INBOX within %s s\n" % (subject, mailbox, timeout))
        return 1
    out = ["--- %s's INBOX over IMAP (STARTTLS, AUTHENTICATE XOAUTH2) ---" % mailbox]
    for name in ("Received", "From", "To", "Subject", "Date", "Message-ID"):
        for value in message.get_all(name, []) if name == "Received" else [message.get(name)]:
            if value:
                out.append("%s: %s" % (name, " ".join(str(value).split())))
    out.append("")
    body = message.get_payload(decode=True) or b""
    out.extend(body.decode("utf-8", "replace").rstrip("\n").splitlines())
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
