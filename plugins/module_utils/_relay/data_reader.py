# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The DATA path: strict framing of the client's message and streaming it upstream.

``BodyFramer`` turns the client's bytes, chunk by chunk, into what upstream
receives. Only ``<CRLF>.<CRLF>`` ends the message (not ``<LF>.<LF>``,
``<CRLF>.<LF>`` or ``<LF>.<CRLF>``: the receiver behaviour behind
CVE-2023-51764). A bare CR always, and a bare LF unless ``bare_newlines`` is
``normalize``, make the message refused; it is read to its real end (so the
session stays in step with the client) and never delivered. Upstream always
gets CRLF line endings and exact dot-stuffing. Work is done with bytes
methods on whole chunks, not per line: a message of millions of short lines
costs what a few large ones do.

``UpstreamBody`` sends that output upstream in bounded chunks, waiting while
upstream's socket is full (so the client is not read meanwhile), and reads
upstream's ``354`` only when the first chunk is due: for a message smaller
than a chunk that is after the whole message, which keeps the round trip the
early ``DATA`` saves.
"""

from __future__ import annotations

import asyncio
import re
from typing import List, Optional, Tuple

from .stream import StreamClosed
from .upstream import Reply, UpstreamError, read_reply

# a partial line (no LF yet) longer than this is passed on without waiting for its end
MAX_CARRY = 8192
# output gathered before it is written upstream (and before upstream's 354 is awaited)
FLUSH_AT = 65536

BARE_LF = "bare_lf"
BARE_CR = "bare_cr"
TOO_BIG = "too_big"

# a dot at the start of a line not followed by another dot: the client's stuffing (or a forgotten one)
_SINGLE_DOT = re.compile(rb"\n\.(?!\.)")
_BARE_LF = re.compile(rb"(?<!\r)\n")


class BodyFramer:
    """Feed the client's DATA bytes; get upstream's bytes back until ``done``.

    ``size`` is the message's size as delivered (without stuffing dots);
    ``problem`` is None, BARE_LF, BARE_CR or TOO_BIG. Once there is a problem no
    more output is produced, but the input is still framed to find the end.
    """

    def __init__(self, bare_newlines: str = "reject", max_size: Optional[int] = None) -> None:
        self.normalize = bare_newlines == "normalize"
        self.max_size = max_size
        self.size = 0
        self.problem: Optional[str] = None
        self.done = False
        self._carry = b""
        self._line_start = True   # the next byte starts a line
        self._after_crlf = True   # ... and the previous line ended in CRLF (or DATA just began)

    def feed(self, data: bytes) -> Tuple[bytes, bytes]:
        """(bytes for upstream, bytes after the end of the message that belong to the next command)."""
        if self.done:
            return b"", data
        data = self._carry + data if self._carry else data
        last = data.rfind(b"\n")
        if last < 0:
            if len(data) <= MAX_CARRY:
                self._carry = data
                return b"", b""
            # a long line: pass it on except a final CR, which may pair with the next LF
            cut = len(data) - 1 if data.endswith(b"\r") else len(data)
            self._carry = data[cut:]
            return self._content(data[:cut], ends_line=False), b""
        block, self._carry = data[:last + 1], data[last + 1:]
        end = self._find_end(block)
        if end is None:
            return self._content(block, ends_line=True), b""
        content_end, after = end
        out = self._content(block[:content_end], ends_line=True) if content_end else b""
        self.done = True
        leftover, self._carry = block[after:] + self._carry, b""
        return out, leftover

    def _find_end(self, block: bytes) -> Optional[Tuple[int, int]]:
        if self._after_crlf and block.startswith(b".\r\n"):
            return 0, 3
        index = block.find(b"\r\n.\r\n")
        return (index + 2, index + 5) if index >= 0 else None

    def _content(self, block: bytes, ends_line: bool) -> bytes:
        """Check and transform a run of complete lines (or of one line's middle)."""
        at_line_start = self._line_start
        self._line_start = ends_line
        self._after_crlf = ends_line and block.endswith(b"\r\n")
        if self.problem is not None:
            return b""
        crlf = block.count(b"\r\n")
        # a run never ends in a CR (it is carried over), so each CR not in a CRLF is bare
        if block.count(b"\r") != crlf:
            self.problem = BARE_CR
            return b""
        if block.count(b"\n") != crlf and not self.normalize:
            self.problem = BARE_LF
            return b""
        out = _unstuff(block, at_line_start)
        if self.normalize and b"\n" in out:
            out = _BARE_LF.sub(b"\r\n", out)
        # upstream's copy stuffs every line that starts with a dot: one byte each beyond the message
        stuffing = out.count(b"\n.") + (1 if at_line_start and out.startswith(b".") else 0)
        self.size += len(out) - stuffing
        if self.max_size is not None and self.size > self.max_size:
            self.problem = TOO_BIG
            return b""
        return out


def _unstuff(block: bytes, at_line_start: bool) -> bytes:
    """Drop each line's leading single dot; keep ".." (unstuffed then stuffed again for upstream).

    A client that forgot to stuff a line ".x" sends "x" (RFC 5321 4.5.2), and upstream
    gets that stuffed stream exactly.
    """
    if b"\n." in block:
        block = _SINGLE_DOT.sub(b"\n", block)
    if at_line_start and block[:1] == b"." and block[1:2] != b".":
        block = block[1:]
    return block


class UpstreamBody:
    """Upstream's half of DATA (the ``DATA`` command has been written already)."""

    def __init__(self, conn, command_timeout: float, data_timeout: float, flush_at: int = FLUSH_AT) -> None:
        self.conn = conn
        self.command_timeout = command_timeout
        self.data_timeout = data_timeout
        self.flush_at = flush_at
        self.pending: List[bytes] = []
        self.pending_size = 0
        self.ready = False                  # upstream's 354 was read
        self.refusal: Optional[Reply] = None  # upstream's answer to DATA when not 354
        self.error: Optional[BaseException] = None  # upstream lost
        self.cancelled = False

    @property
    def failed(self) -> bool:
        return self.cancelled or self.refusal is not None or self.error is not None

    def cancel(self) -> None:
        """No more is sent (the session aborts the connection: upstream never sees the final dot)."""
        self.cancelled = True
        self.pending, self.pending_size = [], 0

    async def add(self, data: bytes) -> None:
        if not data or self.failed:
            return
        self.pending.append(data)
        self.pending_size += len(data)
        if self.pending_size >= self.flush_at:
            await self._send(b"")

    async def finish(self) -> Optional[Reply]:
        """Send the rest and the final dot; upstream's reply, or None if upstream failed."""
        await self._send(b".\r\n")
        if self.failed:
            return None
        try:
            return await read_reply(self.conn.stream, self.data_timeout)
        except (StreamClosed, asyncio.TimeoutError, UpstreamError, OSError) as exc:
            self.error = exc
            return None

    async def _send(self, tail: bytes) -> None:
        if self.failed:
            return
        try:
            if not self.ready:
                reply = await read_reply(self.conn.stream, self.command_timeout)
                if reply.code != 354:
                    self.refusal = reply
                    self.pending, self.pending_size = [], 0
                    return
                self.ready = True
            self.pending.append(tail)
            data = b"".join(self.pending)
            self.pending, self.pending_size = [], 0
            self.conn.stream.write(data)
            # backpressure: the client is not read while upstream's socket is full
            await self.conn.stream.drain_within(self.data_timeout)
        except (StreamClosed, asyncio.TimeoutError, UpstreamError, OSError) as exc:
            self.error = exc
