# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Log line quoting and the DATA reader (dot-unstuffing, re-stuffing, size limit)."""
from __future__ import annotations

import asyncio
import json

from ansible_collections.xoauth2.mail.plugins.module_utils._relay import log
from ansible_collections.xoauth2.mail.plugins.module_utils._relay.data_reader import TOO_BIG
from ansible_collections.xoauth2.mail.plugins.module_utils._relay.smtp_server import Session
from ansible_collections.xoauth2.mail.plugins.module_utils._relay.stream import LineStream

from relay_unit_support import config


def test_log_values_cannot_forge_fields_or_lines(capsys):
    log.setup("info")
    log.debug("hidden", x=1)
    log.info("message", sender="<a@b> upstream=250\nINFO fake", size=3, none=None)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    text = lines[0].split(" ", 2)[2]
    assert lines[0].split(" ")[1] == "INFO" and "none=" not in text
    assert text.startswith("message sender=") and text.endswith(" size=3")
    quoted = text[len("message sender="):text.index(" size=")]
    assert json.loads(quoted) == "<a@b> upstream=250\nINFO fake"


def test_a_log_value_is_written_as_it_is_only_when_it_is_printable_ascii_without_space_quote_equals_backslash():
    for code in list(range(0x00, 0x100)) + [0x2028, 0xDCFF, 0x1F600]:
        char = chr(code)
        plain = 0x21 <= code <= 0x7E and char not in '"=\\'
        assert log._value("a" + char + "b") == ("a" + char + "b" if plain else json.dumps("a" + char + "b")), hex(code)
    assert log._value("") == '""'
    assert log._value(2048) == "2048" and log._value(-1) == "-1" and log._value(2.5) == "2.5"


class FakeStream(LineStream):
    def __init__(self, data: bytes, limit=65536):
        super().__init__(limit=limit)
        self.data_received(data)
        self.eof_received()


class FakeRelay:
    draining = False


class RecordingBody:
    """Stands in for UpstreamBody: keeps what would go upstream."""
    cancelled = failed = False
    refusal = None

    def __init__(self):
        self.sent = []

    def cancel(self):
        self.cancelled = True

    async def add(self, data):
        if data and not self.cancelled:
            self.sent.append(data)


def read_body(tmp_path, data, limit=65536, **top):
    """(bytes for upstream as a list, size, too big) as the session's DATA reader makes them."""
    cfg = config(tmp_path, top)
    relay = FakeRelay()
    relay.config = cfg
    session = Session(relay, FakeStream(data, limit))
    body = RecordingBody()
    framer = asyncio.run(session._read_body(body))
    return [b"".join(body.sent)] if body.sent else [], framer.size, framer.problem == TOO_BIG


def test_dot_unstuffing_and_restuffing(tmp_path):
    data = b"Subject: x\r\n\r\n..leading dot\r\n...two\r\nplain\r\n.\r\nQUIT\r\n"
    wire, size, too_big = read_body(tmp_path, data)
    assert not too_big
    assert b"".join(wire) == b"Subject: x\r\n\r\n..leading dot\r\n...two\r\nplain\r\n"
    assert size == len(b"Subject: x\r\n\r\n.leading dot\r\n..two\r\nplain\r\n")


def test_a_lone_dot_mid_line_or_after_a_long_chunk_is_data(tmp_path):
    # a line longer than the read limit comes in chunks; a chunk that starts with "." mid-line is data
    data = b"a" * 10 + b".\r\n" + b"b" * 20 + b"\r\n.\r\n"
    wire, size, dummy = read_body(tmp_path, data, limit=10)
    assert b"".join(wire) == b"a" * 10 + b".\r\n" + b"b" * 20 + b"\r\n"
    assert size == 35


def test_unstuffed_single_dot_lines_are_stuffed_for_upstream(tmp_path):
    # a client that forgot to stuff ".x" sends "x" (RFC 5321 4.5.2); we send a properly stuffed stream
    wire, dummy, dummy2 = read_body(tmp_path, b"..\r\n.x\r\n.\r\n")
    assert b"".join(wire) == b"..\r\nx\r\n"


def test_size_limit(tmp_path):
    wire, size, too_big = read_body(tmp_path, b"y" * 5000 + b"\r\n.\r\n", max_message_size=4096)
    assert too_big and wire == [] and size == 5002


def test_clear_text_auth_only_for_loopback_peers():
    from ansible_collections.xoauth2.mail.plugins.module_utils._relay.smtp_server import _is_loopback
    assert _is_loopback(("127.0.0.1", 5000)) and _is_loopback(("::1", 5000, 0, 0))
    assert not _is_loopback(("192.0.2.7", 5000)) and not _is_loopback(("2001:db8::1", 1, 0, 0))
