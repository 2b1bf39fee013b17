# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""DATA framing against SMTP smuggling (CVE-2023-51764), streaming and bounded memory, over real sockets.

The upstream here is strict (only <CRLF>.<CRLF> ends DATA), as Postfix 3.9 or
Exchange are: a relay that passes ``<LF>.<CRLF>`` on leaves it waiting.
"""
from __future__ import annotations

import time
import tracemalloc

import pytest

from strict_upstream import RawClient, StrictRelay

HEAD = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: t\r\n\r\n"
SMUGGLED = b"MAIL FROM:<evil@example.test>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\nforged\r\n"


@pytest.fixture
def relay(tmp_path):
    instance = StrictRelay(tmp_path)
    yield instance
    instance.close()


@pytest.fixture
def normalizing_relay(tmp_path):
    instance = StrictRelay(tmp_path, bare_newlines="normalize")
    yield instance
    instance.close()


def session(relay):
    client = RawClient(relay.port)
    client.login()
    return client


def wait_for(predicate, timeout=20.0):
    """Poll until predicate() holds; a bound so a failing test ends, not a speed assertion."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.mark.parametrize("sequence", [b"\n.\r\n", b"\n.\n", b"\r\n.\n"],
                         ids=["LF.CRLF", "LF.LF", "CRLF.LF"])
def test_only_crlf_dot_crlf_ends_data_and_a_smuggling_attempt_is_refused(relay, sequence):
    client = session(relay)
    client.start_data()
    client.send(HEAD + b"hello" + sequence + SMUGGLED + b"\r\n.\r\n")
    code, text = client.reply()
    assert code == 550 and "bare" in text and "5.5.2" in text
    # the session is still in step with the client: the smuggled lines were message text
    assert client.command(b"NOOP")[0] == 250
    assert relay.upstream.messages == []
    assert wait_for(lambda: relay.upstream.cut_off == 1)  # upstream's transaction was cancelled
    # and the relay works on: a clean message goes through
    client.start_data()
    client.send(HEAD + b"clean\r\n.\r\n")
    assert client.reply()[0] == 250
    assert relay.upstream.messages[-1][2] == HEAD + b"clean\r\n"
    client.close()


def test_bare_cr_is_refused_in_both_modes(relay, normalizing_relay):
    for instance in (relay, normalizing_relay):
        client = session(instance)
        client.start_data()
        client.send(HEAD + b"a\rb\r\n.\r\n")
        code, text = client.reply()
        assert code == 550 and "<CR>" in text
        assert instance.upstream.messages == []
        client.close()


def test_normalize_mode_turns_bare_lf_into_crlf_but_still_ends_only_at_crlf_dot_crlf(normalizing_relay):
    client = session(normalizing_relay)
    client.start_data()
    client.send(b"Subject: t\n\nline one\n.\nline two\n.\r\n..dot\n\r\n.\r\n")
    assert client.reply()[0] == 250
    body = normalizing_relay.upstream.messages[0][2]
    # upstream gets CRLF only; a "." line after a bare LF is no end (an empty line once unstuffed)
    assert body == b"Subject: t\r\n\r\nline one\r\n\r\nline two\r\n\r\n..dot\r\n\r\n"
    assert client.command(b"NOOP\n")[0] == 250  # a command ending in LF is taken as if it ended in CRLF
    client.close()


def test_a_command_line_with_a_bare_newline_is_refused_by_default(relay):
    client = session(relay)
    client.send(b"NOOP\n")
    code, text = client.reply()
    assert code == 500 and "bare <LF>" in text
    client.send(b"NOOP\rRSET\r\n")
    code, text = client.reply()
    assert code == 500 and "bare <CR>" in text
    assert client.command(b"NOOP")[0] == 250
    client.close()


def test_commands_pipelined_after_the_message_are_kept(relay):
    client = session(relay)
    client.send(b"MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n")
    assert [client.reply()[0] for dummy in range(3)] == [250, 250, 354]
    client.send(HEAD + b"..leading dot\r\nend\r\n.\r\nNOOP\r\nQUIT\r\n")
    assert [client.reply()[0] for dummy in range(3)] == [250, 250, 221]
    assert relay.upstream.messages[0][2] == HEAD + b"..leading dot\r\nend\r\n"
    assert relay.upstream.after_dot == b""
    client.close()


def test_the_body_streams_upstream_before_the_client_has_finished(relay):
    client = session(relay)
    client.start_data()
    chunk = (b"x" * 998 + b"\r\n") * 100
    client.send(HEAD)
    for dummy in range(10):  # 1 MB
        client.send(chunk)
    # the relay passes the message on as it comes (it used to hold all of it until the end)
    assert wait_for(lambda: relay.upstream.received >= 512 * 1024)
    client.send(b".leading dot\r\n.\r\n")
    assert client.reply()[0] == 250
    body = relay.upstream.messages[0][2]
    assert body == HEAD + chunk * 10 + b"leading dot\r\n"
    client.close()


def test_a_bare_lf_after_part_of_the_message_went_upstream_cancels_it(relay):
    client = session(relay)
    client.start_data()
    client.send(HEAD + b"clean line\r\n" * 20000)  # 240 KB: streaming upstream has begun
    assert wait_for(lambda: relay.upstream.received > 0)
    client.send(b"then a bare LF\n.\r\nmore\r\n.\r\n")
    code, text = client.reply()
    assert code == 550 and "bare <LF>" in text
    assert wait_for(lambda: relay.upstream.cut_off == 1)  # no final dot: upstream delivers nothing
    assert relay.upstream.messages == []
    client.close()


def test_the_client_is_not_read_while_upstream_does_not_read(relay):
    """Backpressure: what the relay buffers stays bounded however much the client pushes."""
    relay.upstream.hold = True
    client = session(relay)
    client.start_data()
    client.send(HEAD)
    sender = client.send_in_background(b"z" * 78 + b"\r\n", 100000)  # 8 MB
    (sess,) = list(relay.relay.sessions)

    def held_back():
        up = sess.upstream
        return up is not None and up.stream._paused_writing and sess.stream._paused_reading

    assert wait_for(held_back)  # upstream's socket is full and the client is no longer read
    time.sleep(0.5)
    # the rest waits in the kernel's socket buffers and then in the client (TCP flow control)
    assert sess.stream._paused_reading and len(sess.stream._buffer) <= 2 * sess.stream.limit
    relay.upstream.hold = False
    sender.join(60)
    client.send(b".\r\n")
    assert client.reply()[0] == 250
    assert len(relay.upstream.messages[0][2]) == len(HEAD) + 8000000
    client.close()


@pytest.mark.parametrize("size", [100, 300000], ids=["small", "streamed"])
def test_upstream_refusing_data_is_passed_on_after_the_message(relay, size):
    relay.upstream.data_command_reply = "554 5.5.1 no valid recipients here"
    client = session(relay)
    client.start_data()
    client.send(HEAD + b"x" * size + b"\r\n.\r\n")
    code, text = client.reply()
    assert code == 554 and "no valid recipients here" in text
    assert relay.upstream.messages == []
    assert client.command(b"NOOP")[0] == 250  # in step with the client
    relay.upstream.data_command_reply = "354 go"
    client.start_data()
    client.send(HEAD + b"next\r\n.\r\n")
    assert client.reply()[0] == 250
    client.close()


def test_size_limit_crossed_mid_stream_cancels_upstream_and_gives_552(tmp_path):
    relay = StrictRelay(tmp_path, max_message_size=100000)
    try:
        client = session(relay)
        client.start_data()
        client.send(HEAD + b"ab\r\n" * 60000 + b".\r\n")  # 240 KB
        code, dummy = client.reply()
        assert code == 552
        assert relay.upstream.messages == []
        assert wait_for(lambda: relay.upstream.cut_off == 1)  # aborted without the final dot
        assert client.command(b"NOOP")[0] == 250
        client.close()
    finally:
        relay.close()


def test_memory_stays_bounded_for_a_large_message_of_short_lines(relay):
    relay.upstream.keep_bodies = False
    client = session(relay)
    client.start_data()
    lines = b"ab\r\n" * 16384  # 64 KB of 4-byte lines
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        for dummy in range(96):  # 6 MB, 1.5 million lines
            client.send(lines)
        client.send(b".\r\n")
        code, dummy = client.reply()
        dummy, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == 250
    # the old reader kept one bytes object per line: ~90 MB here
    assert peak < 8 * 1024 * 1024, "peak %.1f MB" % (peak / 1048576.0)
    client.close()
