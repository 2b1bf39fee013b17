# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""EHLO replies are formatted once per content: each session still gets the one that fits it."""
from __future__ import annotations

import base64
import socket

import pytest

from ansible_collections.xoauth2.mail.plugins.module_utils._relay import smtp_server
from fake_upstream import InProcessRelay


@pytest.fixture
def relay(tmp_path):
    made = InProcessRelay(tmp_path)
    yield made
    made.close()


def _reply(reader):
    lines = [reader.readline()]
    while lines[-1][3:4] == b"-":
        lines.append(reader.readline())
    return b"".join(lines)


def _ehlo(sock, reader):
    sock.sendall(b"EHLO c.example.test\r\n")
    return _reply(reader)


def test_ehlo_offers_auth_until_the_session_is_authenticated_and_follows_the_upstream(relay):
    hostname = relay.config.hostname.encode()
    size = str(relay.config.max_message_size).encode()
    head = b"250-" + hostname + b"\r\n250-PIPELINING\r\n250-SIZE " + size + b"\r\n"
    with socket.create_connection(("127.0.0.1", relay.port), timeout=20) as sock:
        reader = sock.makefile("rb")
        assert _reply(reader).startswith(b"220 ")
        # before any upstream connection: 8BITMIME only; loopback, so AUTH without TLS
        assert _ehlo(sock, reader) == head + b"250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 AUTH PLAIN LOGIN\r\n"
        sock.sendall(b"AUTH PLAIN " + base64.b64encode(b"\0alice\0pw") + b"\r\n")
        assert _reply(reader).startswith(b"235 ")
        assert _ehlo(sock, reader) == head + b"250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n"
        sock.sendall(b"MAIL FROM:<alice@example.test>\r\n")
        assert _reply(reader).startswith(b"250 ")
        sock.sendall(b"RSET\r\n")
        assert _reply(reader).startswith(b"250 ")
    with socket.create_connection(("127.0.0.1", relay.port), timeout=20) as sock:
        reader = sock.makefile("rb")
        _reply(reader)
        # the upstream (8BITMIME, no SMTPUTF8, no DSN) is known now; a new session is offered AUTH again
        assert _ehlo(sock, reader) == head + b"250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 AUTH PLAIN LOGIN\r\n"
        relay.call(_set_features(relay, {"8BITMIME": "", "SMTPUTF8": "", "DSN": ""}))
        assert _ehlo(sock, reader) == (head + b"250-8BITMIME\r\n250-SMTPUTF8\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n"
                                       b"250 AUTH PLAIN LOGIN\r\n")


async def _set_features(relay, features):
    for pool in relay.relay.pools.values():
        pool.features = features


def test_the_kept_ehlo_replies_are_bounded_and_each_is_the_one_asked_for():
    for index in range(3 * smtp_server.MAX_EHLO_REPLIES):
        host = "relay%d.test" % index
        assert smtp_server._ehlo_reply(host, ["PIPELINING", "SIZE 10"]) == (
            b"250-" + host.encode() + b"\r\n250-PIPELINING\r\n250 SIZE 10\r\n")
        assert len(smtp_server._EHLO_REPLIES) <= smtp_server.MAX_EHLO_REPLIES
    assert smtp_server._ehlo_reply("relay.test", []) == b"250 relay.test\r\n"
