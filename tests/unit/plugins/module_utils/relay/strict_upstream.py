# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A strict fake upstream (DATA ends only at <CRLF>.<CRLF>), a relay in front of it, and a raw SMTP client."""
from __future__ import annotations

import asyncio
import base64
import socket
import threading

from fake_upstream import FakeUpstream, InProcessRelay


class StrictUpstream(FakeUpstream):
    """Like a strict server: only <CRLF>.<CRLF> ends DATA; a connection closed before it delivers nothing.

    Reads DATA in chunks (fast for large messages); ``received`` counts DATA bytes of the
    current transaction, ``cut_off`` the DATA phases ended by the connection closing.
    """

    def __init__(self, cert_file, key_file):
        super().__init__(cert_file, key_file)
        self.keep_bodies = True
        self.received = 0
        self.cut_off = 0
        self.after_dot = b""  # bytes sent after the final dot in the same read (the relay must not)
        self.hold = False  # while true, DATA is not read (a slow server: its socket fills up)

    async def read_data(self, reader):
        self.received = 0
        body = bytearray()
        tail = b"\r\n"  # DATA starts at the beginning of a line
        while True:
            while self.hold:
                await asyncio.sleep(0.01)
            try:
                chunk = await reader.read(65536)
            except ConnectionError:
                chunk = b""  # an aborted connection (RST)
            if not chunk:
                self.cut_off += 1
                return None
            self.received += len(chunk)
            window = tail + chunk
            index = window.find(b"\r\n.\r\n")
            if index >= 0:
                if self.keep_bodies:
                    body += chunk[:max(0, index + 2 - len(tail))]
                self.after_dot += window[index + 5:]
                return bytes(body)
            if self.keep_bodies:
                body += chunk
            tail = window[-4:]


class StrictRelay(InProcessRelay):
    """The relay (in process) in front of a StrictUpstream."""

    async def _make_upstream(self, cert_file, key_file, implicit_tls):
        upstream = StrictUpstream(cert_file, key_file)
        await upstream.start(implicit_tls)
        return upstream


class RawClient:
    """A client that sends exact bytes (smtplib would fix up line endings)."""

    def __init__(self, port, timeout=30):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.file = self.sock.makefile("rb")
        assert self.reply()[0] == 220

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_in_background(self, data: bytes, times: int) -> threading.Thread:
        """Send ``data`` ``times`` times from a thread (it blocks while the relay does not read)."""
        thread = threading.Thread(target=lambda: [self.sock.sendall(data) for dummy in range(times)], daemon=True)
        thread.start()
        return thread

    def reply(self):
        """(code, text of the last line), or (None, "") if the connection closed."""
        while True:
            line = self.file.readline()
            if not line:
                return None, ""
            if line[3:4] != b"-":
                return int(line[:3]), line[4:].decode("utf-8", "replace").rstrip("\r\n")

    def command(self, line: bytes):
        self.send(line + b"\r\n")
        return self.reply()

    def login(self, user="alice", secret="pw"):
        assert self.command(b"EHLO client.test")[0] == 250
        token = base64.b64encode(("\0%s\0%s" % (user, secret)).encode())
        assert self.command(b"AUTH PLAIN " + token)[0] == 235

    def start_data(self, sender=b"<a@example.test>", rcpt=b"<b@example.test>"):
        assert self.command(b"MAIL FROM:" + sender)[0] == 250
        assert self.command(b"RCPT TO:" + rcpt)[0] == 250
        assert self.command(b"DATA")[0] == 354

    def close(self):
        try:
            self.sock.close()
        finally:
            self.file.close()
