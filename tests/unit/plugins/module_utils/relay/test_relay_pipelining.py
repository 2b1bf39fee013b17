# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PIPELINING (RFC 2920) towards clients and what a session costs, over real sockets.

A client that pipelines MAIL, RCPT and DATA gets its replies in order, each
command's own (an upstream refusal of one recipient stays on that RCPT), and
in one write; a closed session keeps nothing alive (no stream, no buffer).
"""
from __future__ import annotations

import base64
import gc
import time

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from ansible_collections.xoauth2.mail.plugins.module_utils._relay.stream import LineStream

from fake_upstream import InProcessRelay
from strict_upstream import RawClient

TIMEOUTS = {"connect": 5, "command": 5, "data": 10, "shutdown": 5}
AUTH = b"AUTH PLAIN " + base64.b64encode(b"\0alice\0pw")


@pytest.fixture
def relay(tmp_path):
    instance = InProcessRelay(tmp_path, timeouts=TIMEOUTS)
    yield instance
    instance.close()


class WriteLog:
    """Every write the relay makes on the streams it serves clients on (or, ``upstream``, to upstream)."""

    def __init__(self, monkeypatch, relay, upstream=False):
        self.writes = []
        upstream_port = relay.upstream.port
        real = LineStream.write

        def write(stream, data):
            peer = stream.transport.get_extra_info("peername") if stream.transport else None
            if bool(peer and peer[1] == upstream_port) == upstream:
                self.writes.append(bytes(data))
            return real(stream, data)

        monkeypatch.setattr(LineStream, "write", write)


def replies_in(data: bytes):
    return [int(line[:3]) for line in data.split(b"\r\n") if line and line[3:4] != b"-"]


def test_a_pipelined_mail_rcpt_data_group_gets_its_replies_in_order_in_one_write(relay, monkeypatch):
    client = RawClient(relay.port)
    client.login()
    log = WriteLog(monkeypatch, relay)
    client.send(b"MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
    assert [client.reply()[0] for dummy in range(3)] == [250, 250, 354]
    assert [replies_in(data) for data in log.writes] == [[250, 250, 354]]
    client.send(b"Subject: t\r\n\r\npipelined\r\n.\r\nQUIT\r\n")
    assert client.reply()[0] == 250
    assert client.reply()[0] == 221
    client.close()
    assert relay.upstream.messages[-1][2] == b"Subject: t\r\n\r\npipelined\r\n"


def test_a_pipelined_mail_rcpt_data_group_goes_upstream_in_one_write(relay, monkeypatch):
    client = RawClient(relay.port)
    client.login()
    client.start_data()  # a first message opens the pooled upstream connection (EHLO, STARTTLS, AUTH)
    client.send(b"Subject: 1\r\n\r\nfirst\r\n.\r\n")
    assert client.reply()[0] == 250
    sent = WriteLog(monkeypatch, relay, upstream=True)
    client.send(b"MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
    assert [client.reply()[0] for dummy in range(3)] == [250, 250, 354]
    client.send(b"Subject: t\r\n\r\nhi\r\n.\r\n")
    assert client.reply()[0] == 250
    assert sent.writes[0] == b"MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
    assert sent.writes[1:] == [b"Subject: t\r\n\r\nhi\r\n.\r\n"]
    # the connection is clean for the next message, sent one command at a time
    one_by_one = (b"MAIL FROM:<alice@example.test>", b"RCPT TO:<carol@example.test>", b"DATA")
    assert [client.command(line)[0] for line in one_by_one] == [250, 250, 354]
    client.send(b"Subject: 2\r\n\r\nagain\r\n.\r\n")
    assert client.reply()[0] == 250
    client.close()
    assert [body for dummy, dummy2, body in relay.upstream.messages[-2:]] == [
        b"Subject: t\r\n\r\nhi\r\n", b"Subject: 2\r\n\r\nagain\r\n"]


def test_an_upstream_refusal_of_one_pipelined_recipient_is_that_rcpt_reply(relay):
    relay.upstream.rcpt_replies["nobody@example.test"] = "550 5.1.1 <nobody@example.test>: unknown user"
    client = RawClient(relay.port)
    client.login()
    client.send(b"MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n"
                b"RCPT TO:<nobody@example.test>\r\nRCPT TO:<carol@example.test>\r\nDATA\r\n")
    replies = [client.reply() for dummy in range(5)]
    assert [code for code, dummy in replies] == [250, 250, 550, 250, 354]
    assert "unknown user" in replies[2][1]
    client.send(b"Subject: t\r\n\r\nhi\r\n.\r\n")
    assert client.reply()[0] == 250
    client.close()
    mail, rcpts, dummy = relay.upstream.messages[-1]
    assert rcpts == ["RCPT TO:<bob@example.test>", "RCPT TO:<carol@example.test>"]


def test_a_pipelined_group_whose_only_recipient_is_refused_ends_without_a_message(relay):
    relay.upstream.rcpt_replies["nobody@example.test"] = "550 5.1.1 unknown user"
    client = RawClient(relay.port)
    client.login()
    client.send(b"MAIL FROM:<alice@example.test>\r\nRCPT TO:<nobody@example.test>\r\nDATA\r\nNOOP\r\n")
    assert [client.reply()[0] for dummy in range(4)] == [250, 550, 554, 250]
    # upstream's answer to the early DATA was read: the next transaction gets its own replies
    assert client.command(b"RSET")[0] == 250
    client.send(b"MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
    assert [client.reply()[0] for dummy in range(3)] == [250, 250, 354]
    client.send(b"Subject: t\r\n\r\nafter\r\n.\r\n")
    assert client.reply()[0] == 250
    assert client.command(b"QUIT")[0] == 221
    client.close()
    assert [body for dummy, dummy2, body in relay.upstream.messages] == [b"Subject: t\r\n\r\nafter\r\n"]


def test_a_refused_sender_in_a_pipelined_group_is_every_rcpt_reply_and_data_gets_554(relay):
    relay.upstream.mail_reply = "553 5.7.1 <alice@example.test>: Sender address rejected"
    client = RawClient(relay.port)
    client.login()
    client.send(b"MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n"
                b"RCPT TO:<carol@example.test>\r\nDATA\r\n")
    replies = [client.reply() for dummy in range(4)]
    assert [code for code, dummy in replies] == [250, 553, 553, 554]
    assert "Sender address rejected" in replies[1][1]
    assert client.command(b"QUIT")[0] == 221
    client.close()
    assert relay.upstream.messages == []


def test_closed_sessions_keep_no_stream_alive(relay):
    for dummy in range(30):
        client = RawClient(relay.port)
        assert client.command(b"EHLO client.test")[0] == 250
        assert client.command(b"QUIT")[0] == 221
        client.close()
    deadline = time.monotonic() + 20
    while relay.relay.sessions and time.monotonic() < deadline:
        time.sleep(0.05)

    async def live_client_streams():
        gc.collect()
        return [obj for obj in gc.get_objects() if isinstance(obj, LineStream)
                and obj.peer and obj.peer[1] != relay.upstream.port]

    # a closed connection's stream (and its 16 KB receive buffer) is not held on to by a timer
    assert relay.call(live_client_streams()) == []


COMMANDS = [b"NOOP", b"RSET", b"HELP", b"VRFY bob", b"MAIL FROM:<alice@example.test>", b"MAIL FROM:<bad",
            b"RCPT TO:<bob@example.test>", b"RCPT TO:bob", b"DATA", b"BOGUS", b"MAIL FROM:<a\x01@x.test>",
            b"\x00", b"EHLO again.test"]


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(COMMANDS), min_size=1, max_size=12))
@example([b"MAIL FROM:<alice@example.test>", b"RCPT TO:<bob@example.test>", b"DATA"])
@example([b"MAIL FROM:<alice@example.test>", b"MAIL FROM:<alice@example.test>", b"RSET", b"DATA"])
def test_pipelined_commands_get_the_replies_they_get_one_at_a_time(relay, commands):
    """Sending a group in one write changes nothing in the replies: same codes, same order."""
    if b"DATA" in commands:  # a 354 would make the rest the message: stop the group there
        commands = commands[:commands.index(b"DATA") + 1]

    def codes(pipelined):
        client = RawClient(relay.port)
        try:
            client.login()
            if pipelined:
                client.send(b"".join(command + b"\r\n" for command in commands))
                got = [client.reply()[0] for dummy in commands]
            else:
                got = [client.command(command)[0] for command in commands]
            if got[-1] == 354:
                client.send(b"Subject: t\r\n\r\nx\r\n.\r\n")
                got.append(client.reply()[0])
            got.append(client.command(b"QUIT")[0])
            return got
        finally:
            client.close()

    assert codes(pipelined=True) == codes(pipelined=False)
