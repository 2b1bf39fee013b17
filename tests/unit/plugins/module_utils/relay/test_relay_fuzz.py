# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fuzzing (Hypothesis) of the relay's command parser and DATA reader, with the smuggling sequences as examples.

Properties: random input never crashes the parser or a session; whatever is
accepted goes upstream well-formed; no message with a bare CR or LF, or that
did not end with <CRLF>.<CRLF>, is ever delivered; dot-stuffing round-trips
whatever the chunking.
"""
from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from ansible_collections.xoauth2.mail.plugins.module_utils._relay.data_reader import BodyFramer
from ansible_collections.xoauth2.mail.plugins.module_utils._relay.smtp_syntax import (
    SyntaxRefused, check_mail_params, check_rcpt_params, parse_path)

from strict_upstream import RawClient, StrictRelay

FAST = settings(max_examples=300, deadline=None, database=None)
SOCKETS = settings(max_examples=25, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture])

# the sequences behind SMTP smuggling (CVE-2023-51764 and relatives)
SMUGGLING = [b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r", b"\r\n.\r", b"\r.\r\n", b"\n.\r\r\n"]
SMUGGLED = b"MAIL FROM:<evil@example.test>\r\nRCPT TO:<v@example.test>\r\nDATA\r\nforged\r\n.\r\n"


def stuff(message: bytes) -> bytes:
    """A client's DATA bytes for a CRLF message: dot-stuffed, with the final dot."""
    stuffed = re.sub(rb"(^|\n)\.", rb"\1..", message)
    return stuffed + b".\r\n"


def unstuff(wire: bytes) -> bytes:
    return re.sub(rb"(^|\n)\.", rb"\1", wire)


def split(data: bytes, cuts):
    points = sorted(set(c % (len(data) + 1) for c in cuts))
    pieces, last = [], 0
    for point in points + [len(data)]:
        pieces.append(data[last:point])
        last = point
    return [p for p in pieces if p]


def frame(data: bytes, cuts, mode="reject", max_size=None):
    """Feed data in pieces; (upstream bytes, leftover, framer)."""
    framer = BodyFramer(mode, max_size)
    out, leftover = [], b""
    for piece in split(data, cuts):
        produced, rest = framer.feed(piece)
        out.append(produced)
        leftover += rest
    return b"".join(out), leftover, framer


def clean(wire: bytes) -> bool:
    """CRLF line endings only, and no end-of-data inside: a strict server reads exactly this message."""
    crlf = wire.count(b"\r\n")
    return (wire.count(b"\r") == crlf == wire.count(b"\n") and (not wire or wire.endswith(b"\r\n"))
            and b"\r\n.\r\n" not in wire and not wire.startswith(b".\r\n"))


lines = st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")), max_size=30)
cuts = st.lists(st.integers(min_value=0, max_value=10 ** 6), max_size=8)


@FAST
@given(lines, cuts, st.binary(max_size=20))
@example([b".", b"..", b"...x", b".x", b""], [1, 2, 3, 4, 5, 6, 7], b"QUIT\r\n")
@example([b"a" * 9000, b"." + b"b" * 9000], [9000, 9001, 9002], b"")
def test_stuffing_round_trips_whatever_the_chunking(message_lines, cut_points, after):
    message = b"".join(line + b"\r\n" for line in message_lines)
    wire, leftover, framer = frame(stuff(message) + after, cut_points)
    assert framer.done and framer.problem is None
    assert leftover == after
    assert unstuff(wire) == message and framer.size == len(message)
    assert clean(wire)


@FAST
@given(st.binary(max_size=300), cuts, st.sampled_from(["reject", "normalize"]))
@example(b"hello\n.\r\n" + SMUGGLED, [], "reject")
@example(b"hello\n.\n" + SMUGGLED, [6, 7], "reject")
@example(b"hello\r\n.\n" + SMUGGLED, [7], "reject")
@example(b"hello\n.\r\n" + SMUGGLED, [], "normalize")
@example(b"hello\r.\r" + SMUGGLED, [], "normalize")
@example(b"\r", [], "reject")
def test_random_bytes_never_frame_a_message_that_is_not_clean(data, cut_points, mode):
    wire, leftover, framer = frame(data, cut_points, mode)
    consumed = data[:len(data) - len(leftover)] if framer.done else data
    if framer.done:
        assert consumed == b".\r\n" or consumed.endswith(b"\r\n.\r\n")  # the one end there is
        assert data.endswith(leftover)
    if framer.done and framer.problem is None:
        assert clean(wire)
        if mode == "reject":  # nothing is changed but stuffing
            assert unstuff(wire) == unstuff(consumed[:-3])
    # the same input in one piece frames the same way
    whole, whole_leftover, whole_framer = frame(data, [], mode)
    assert (whole_framer.done, whole_framer.problem, whole_leftover) == (framer.done, framer.problem, leftover)
    if framer.problem is None:
        assert whole == wire


@FAST
@given(st.sampled_from(SMUGGLING), st.binary(max_size=40), cuts, st.sampled_from(["reject", "normalize"]))
def test_smuggling_sequences_never_end_a_message(sequence, text, cut_points, mode):
    data = b"Subject: x\r\n\r\nt" + text.replace(b"\r", b"").replace(b"\n", b"") + sequence + SMUGGLED
    wire, leftover, framer = frame(data, cut_points, mode)
    # the smuggled command lines are part of the message: nothing after the real end remains
    assert framer.done and leftover == b""
    if framer.problem is None:
        assert mode == "normalize" and b"\r" not in sequence.replace(b"\r\n", b"")
        assert clean(wire) and b"MAIL FROM:<evil@example.test>" in wire


path_text = st.text(alphabet=st.characters(max_codepoint=0x2ff), max_size=60)


@FAST
@given(st.sampled_from(["FROM", "TO"]), path_text)
@example("FROM", "<a@b.test> ENVID=x+2B RET=FULL")
@example("FROM", "<a@b.test\r\nRCPT TO:<c@d.test>")
@example("TO", "<a@b.test> ORCPT=rfc822;a\x00b NOTIFY=NEVER")
@example("TO", "<a@b.test> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;x+40y")
def test_the_command_parser_accepts_only_well_formed_arguments(prefix, text):
    arg = "%s:%s" % (prefix, text)
    try:
        path, params = parse_path(arg, prefix)
        (check_mail_params if prefix == "FROM" else check_rcpt_params)(params)
    except SyntaxRefused as exc:
        assert re.match(r"^(501|555) 5\.\d\.\d ", exc.reply)
        return
    forwarded = path + "".join(" %s=%s" % kv if kv[1] is not None else " " + kv[0] for kv in params.items())
    assert not re.search(r"[\x00-\x1f\x7f]", forwarded)
    assert path.startswith("<") and path.endswith(">") and "<" not in path[1:-1] and ">" not in path[1:-1]
    for key, value in params.items():
        assert re.match(r"^[A-Z0-9][A-Z0-9-]*$", key) and (value is None or (value and " " not in value))


@pytest.fixture(scope="module")
def relay(tmp_path_factory):
    instance = StrictRelay(tmp_path_factory.mktemp("fuzz"), timeouts={"connect": 5, "command": 5, "data": 5,
                                                                      "shutdown": 5})
    yield instance
    instance.close()


@SOCKETS
@given(st.binary(max_size=400), st.sampled_from(SMUGGLING + [b""]))
@example(b"hello", b"\n.\r\n")
@example(b"\r\n.\r\nNOOP\r\nMAIL FROM:<x@y.test>\r\n", b"")
def test_a_real_session_fed_random_bytes_never_crashes_nor_delivers_a_bad_message(relay, data, sequence):
    before = len(relay.upstream.messages)
    client = RawClient(relay.port, timeout=20)
    try:
        client.login()
        client.start_data()
        client.send(data + sequence + SMUGGLED + b"\r\n.\r\nQUIT\r\n")
        replies = []
        while True:
            code, text = client.reply()
            if code is None:
                break
            replies.append((code, text))
            if code in (221, 421):
                break
    finally:
        client.close()
    assert replies, "no reply at all"
    assert all(code != 451 for code, dummy in replies), replies  # no internal error, no lost upstream
    for dummy, dummy2, body in relay.upstream.messages[before:]:
        assert clean(body)
