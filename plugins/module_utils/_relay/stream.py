# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A line-oriented asyncio protocol that can switch to TLS in place (STARTTLS).

asyncio's StreamReader/StreamWriter only learned ``start_tls`` in Python 3.11;
owning the protocol lets ``loop.start_tls`` swap the transport on 3.9 too.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, Dict, List, Optional, Tuple, Union


class StreamClosed(ConnectionError):
    """The peer closed the connection (or it broke) while we waited for it."""


# a timer may run this much before its time (the loop's clock resolution): still due
_TIMER_SLACK = 0.001


# bytes taken from the socket per read: with reading paused above ``limit`` buffered bytes, what a
# connection holds in memory stays near limit + RECV_SIZE whatever the client sends (a huge message)
RECV_SIZE = 16384


class LineStream(asyncio.BufferedProtocol):
    """Buffered reads by line (bounded), writes with flow control, STARTTLS."""

    def __init__(self, limit: int = 65536, on_connect=None) -> None:
        self.limit = limit
        self.on_connect = on_connect
        self.transport: Optional[asyncio.Transport] = None
        self._buffer = bytearray()
        self._eof = False
        self._closed = False
        self._waiter: Optional[asyncio.Future] = None
        self._paused_reading = False
        self._paused_writing = False
        self._drain_waiters: List[asyncio.Future] = []
        self._recv: Optional[memoryview] = None
        self._timer: Optional[asyncio.TimerHandle] = None
        self._deadline: Optional[float] = None
        self.peer: Union[Tuple, str, None] = None

    # -- asyncio.Protocol ----------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport
        self.peer = transport.get_extra_info("peername")
        if self.on_connect is not None:
            callback, self.on_connect = self.on_connect, None  # not again after STARTTLS
            callback(self)

    def get_buffer(self, sizehint: int):
        if self._recv is None:
            self._recv = memoryview(bytearray(RECV_SIZE))
        return self._recv

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self._recv[:nbytes])

    def data_received(self, data) -> None:
        self._buffer += data
        if len(self._buffer) > self.limit and not self._paused_reading:
            try:
                self.transport.pause_reading()
                self._paused_reading = True
            except (AttributeError, RuntimeError):
                pass
        self._wake()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake()
        return False

    def connection_lost(self, exc) -> None:
        self._eof = True
        self._closed = True
        # nothing more arrives: a closed connection keeps neither its receive buffer nor a timer
        # (whose callback would hold this stream until it fires)
        self._recv = None
        self._cancel_timer()
        self._wake()
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._drain_waiters = []

    def pause_writing(self) -> None:
        self._paused_writing = True

    def resume_writing(self) -> None:
        self._paused_writing = False
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._drain_waiters = []

    # -- reading -------------------------------------------------------------
    async def _wait(self, deadline: Optional[float]) -> None:
        """Wait for more data (or EOF) until the loop time ``deadline``.

        One timer per stream, moved only when a deadline comes earlier than the armed one: a
        later deadline (the usual case: each command sets one a little further on) is picked
        up when the armed timer fires. Scheduling and cancelling a timer for every wait cost
        more than the rest of reading a command.
        """
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        self._deadline = deadline
        if deadline is not None:
            timer = self._timer
            if timer is None or timer.when() > deadline:
                if timer is not None:
                    timer.cancel()
                self._timer = loop.call_at(deadline, self._on_timer)
        try:
            await waiter
        finally:
            if self._waiter is waiter:
                self._waiter = None

    def _on_timer(self) -> None:
        self._timer = None
        waiter, deadline = self._waiter, self._deadline
        if waiter is None or waiter.done() or deadline is None:
            return  # nobody waits now: the next wait arms a timer again
        loop = asyncio.get_running_loop()
        if loop.time() + _TIMER_SLACK >= deadline:
            waiter.set_exception(asyncio.TimeoutError())
        else:
            self._timer = loop.call_at(deadline, self._on_timer)

    def _cancel_timer(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _resume(self) -> None:
        if self._paused_reading and len(self._buffer) <= self.limit:
            self._paused_reading = False
            try:
                self.transport.resume_reading()
            except (AttributeError, RuntimeError):
                pass

    @property
    def at_eof(self) -> bool:
        return self._eof and not self._buffer

    @property
    def closed(self) -> bool:
        return self._closed or self._eof

    def has_buffered(self) -> bool:
        return bool(self._buffer)

    def next_line_is(self, line: bytes) -> bool:
        """The next buffered line is ``line`` (ASCII letters in any case): a client pipelined it."""
        return bytes(self._buffer[:len(line)]).upper() == line

    def has_line(self) -> bool:
        """A complete line is buffered: reading the next command would not wait."""
        return self._buffer.find(b"\n") >= 0

    async def readline(self, timeout: Optional[float] = None) -> bytes:
        """A line with its ending; a chunk of ``limit`` bytes of a longer line; b"" at EOF.

        The line must be complete within ``timeout`` seconds of this call, however it trickles
        in; asyncio.TimeoutError when it is not.
        """
        deadline = None
        while True:
            index = self._buffer.find(b"\n")
            if index >= 0 or len(self._buffer) >= self.limit:
                end = index + 1 if 0 <= index < self.limit else self.limit
                line = bytes(self._buffer[:end])
                del self._buffer[:end]
                self._resume()
                return line
            if self._eof:
                line = bytes(self._buffer)
                self._buffer.clear()
                return line
            if deadline is None and timeout is not None:
                deadline = asyncio.get_running_loop().time() + timeout
            await self._wait(deadline)

    async def read_chunk(self, timeout: Optional[float] = None, size: int = 32768) -> bytes:
        """Whatever is buffered (at most ``size`` bytes), waiting for some; b"" at EOF.

        For bulk data (a message body) that is framed by its reader, not by lines.
        ``timeout`` bounds the wait, as for ``readline``.
        """
        deadline = None
        while not self._buffer:
            if self._eof:
                return b""
            if deadline is None and timeout is not None:
                deadline = asyncio.get_running_loop().time() + timeout
            await self._wait(deadline)
        if len(self._buffer) <= size:
            chunk = bytes(self._buffer)
            self._buffer.clear()
        else:
            chunk = bytes(self._buffer[:size])
            del self._buffer[:size]
        self._resume()
        return chunk

    def unread(self, data: bytes) -> None:
        """Put back bytes a reader took beyond what it needed (e.g. commands pipelined after DATA)."""
        if data:
            self._buffer[0:0] = data

    # -- writing -------------------------------------------------------------
    async def drain_within(self, timeout: float) -> None:
        """``drain``, bounded: asyncio.TimeoutError if the peer does not read for ``timeout`` seconds."""
        if self._paused_writing:
            await asyncio.wait_for(self.drain(), timeout)
        elif self._closed:
            raise StreamClosed("connection closed")

    def write(self, data: bytes) -> None:
        if self._closed or self.transport is None or self.transport.is_closing():
            raise StreamClosed("connection closed")
        self.transport.write(data)

    async def drain(self) -> None:
        if self._closed:
            raise StreamClosed("connection closed")
        if self._paused_writing:
            waiter = asyncio.get_running_loop().create_future()
            self._drain_waiters.append(waiter)
            await waiter
            if self._closed:
                raise StreamClosed("connection closed")

    async def start_tls(self, context: ssl.SSLContext, server_side: bool,
                        server_hostname: Optional[str] = None, timeout: Optional[float] = None) -> None:
        """Switch this connection to TLS; any unread plaintext must have been refused before."""
        loop = asyncio.get_running_loop()
        kwargs: Dict[str, Any] = {"server_side": server_side}
        if not server_side:
            kwargs["server_hostname"] = server_hostname
        if timeout is not None:
            kwargs["ssl_handshake_timeout"] = timeout
        self._buffer.clear()
        self.transport = await loop.start_tls(self.transport, self, context, **kwargs)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def unsent(self) -> int:
        """Bytes written and not yet handed to the socket."""
        try:
            return self.transport.get_write_buffer_size() if self.transport is not None else 0
        except (AttributeError, RuntimeError):
            return 0

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def tls_version(self) -> Optional[str]:
        obj = self.transport.get_extra_info("ssl_object") if self.transport else None
        return obj.version() if obj is not None else None
