# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The upstream SMTP client: always TLS, verified, then AUTH XOAUTH2.

A token is written only on a connection whose TLS handshake verified the
server; a server that does not offer STARTTLS is refused before anything
else is sent (no downgrade). One ``ssl.SSLContext`` per account is reused
for every connection: building one (loading the trust store) costs tens of
milliseconds.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Any, Dict, List, Optional

from .._xoauth2 import decode_error_challenge, xoauth2_initial_response
from .stream import LineStream, StreamClosed

# Longest AUTH line sent with the initial response; longer tokens go after a 334.
MAX_INITIAL_RESPONSE_LINE = 998


class UpstreamError(Exception):
    """Upstream did not do what was needed; ``reply`` is its answer when there was one."""

    def __init__(self, message: str, reply: Optional["Reply"] = None, temporary: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.reply = reply
        self.temporary = temporary


class PlaintextRefused(UpstreamError):
    """The server offers no TLS: a token must not go there."""


class AuthRefused(UpstreamError):
    """The server refused the token (its reply, and the decoded error challenge if any)."""

    def __init__(self, reply: "Reply", challenge: Optional[dict] = None) -> None:
        super().__init__("upstream refused the token: %s" % reply.summary(), reply)
        self.challenge = challenge


class Reply:
    __slots__ = ("code", "lines")

    def __init__(self, code: int, lines: List[str]) -> None:
        self.code = code
        self.lines = lines

    @property
    def text(self) -> str:
        return " ".join(self.lines)

    def summary(self) -> str:
        return ("%d %s" % (self.code, self.text))[:200]

    def wire(self) -> bytes:
        """The reply as it goes back to our client (multi-line kept)."""
        lines = self.lines or [""]
        out = []
        for index, line in enumerate(lines):
            sep = " " if index == len(lines) - 1 else "-"
            out.append("%d%s%s\r\n" % (self.code, sep, line))
        return "".join(out).encode("utf-8", "surrogateescape")

    def __repr__(self) -> str:
        return "Reply(%d, %r)" % (self.code, self.lines)


def make_ssl_context(ca_file: Optional[str]) -> ssl.SSLContext:
    """Verified client context: the system trust store, or the given CA file."""
    context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


async def read_reply(stream: LineStream, timeout: float) -> Reply:
    lines: List[str] = []
    code = 0
    while True:
        raw = await stream.readline(timeout)
        if not raw:
            raise StreamClosed("upstream closed the connection")
        line = raw.decode("utf-8", "surrogateescape").rstrip("\r\n")
        if len(line) < 3 or not line[:3].isdigit():
            raise UpstreamError("upstream sent a malformed reply line")
        code = int(line[:3])
        lines.append(line[4:])
        if len(line) == 3 or line[3] != "-":
            return Reply(code, lines)


class UpstreamConnection:
    """One connection to the account's upstream server."""

    def __init__(self, stream: LineStream, host: str, command_timeout: float) -> None:
        self.stream = stream
        self.host = host
        self.command_timeout = command_timeout
        self.features: Dict[str, str] = {}
        self.token_expires_at = 0.0
        self.last_used = time.monotonic()
        self.transactions = 0
        self.reused = False  # set by the pool when handed out again
        self.tls: Optional[str] = None

    @classmethod
    async def open(cls, host: str, port: int, security: str, context: ssl.SSLContext,
                   server_hostname: Optional[str], local_hostname: str,
                   connect_timeout: float, command_timeout: float) -> "UpstreamConnection":
        loop = asyncio.get_running_loop()
        tls_name = server_hostname or host
        kwargs: Dict[str, Any] = {}
        if security == "tls":
            kwargs = {"ssl": context, "server_hostname": tls_name, "ssl_handshake_timeout": connect_timeout}
        try:
            _transport, stream = await asyncio.wait_for(
                loop.create_connection(LineStream, host, port, **kwargs), connect_timeout)
        except (OSError, asyncio.TimeoutError, ssl.SSLError) as exc:
            raise UpstreamError("cannot connect to %s:%d: %s" % (host, port, _reason(exc)))
        conn = cls(stream, host, command_timeout)
        try:
            greeting = await read_reply(stream, connect_timeout)
            if greeting.code != 220:
                raise UpstreamError("upstream greeting: %s" % greeting.summary(), greeting, greeting.code < 500)
            await conn.ehlo(local_hostname)
            if security == "starttls":
                if "STARTTLS" not in conn.features:
                    raise PlaintextRefused(
                        "%s:%d does not offer STARTTLS; refusing to send a token over plaintext" % (host, port),
                        temporary=True)
                reply = await conn.command("STARTTLS")
                if reply.code != 220:
                    raise UpstreamError("STARTTLS refused: %s" % reply.summary(), reply)
                if stream.has_buffered():
                    raise UpstreamError("upstream sent data before the TLS handshake (injection attempt?)")
                await stream.start_tls(context, server_side=False, server_hostname=tls_name,
                                       timeout=connect_timeout)
                await conn.ehlo(local_hostname)
            conn.tls = stream.tls_version()
            if not conn.tls:
                raise PlaintextRefused("no TLS on the upstream connection")
        except ssl.SSLError as exc:
            conn.abort()
            raise UpstreamError("TLS with %s:%d failed: %s" % (host, port, _reason(exc)))
        except (StreamClosed, OSError, asyncio.TimeoutError) as exc:
            conn.abort()
            raise UpstreamError("upstream %s:%d: %s" % (host, port, _reason(exc)))
        except BaseException:
            conn.abort()
            raise
        return conn

    async def command(self, line: str, timeout: Optional[float] = None) -> Reply:
        # surrogateescape: bytes a client sent that are not UTF-8 go upstream unchanged
        self.stream.write(line.encode("utf-8", "surrogateescape") + b"\r\n")
        return await read_reply(self.stream, timeout or self.command_timeout)

    async def ehlo(self, local_hostname: str) -> None:
        reply = await self.command("EHLO %s" % local_hostname)
        if reply.code != 250:
            raise UpstreamError("EHLO refused: %s" % reply.summary(), reply)
        features = {}
        for line in reply.lines[1:]:
            keyword, dummy, params = line.partition(" ")
            features[keyword.upper()] = params.strip()
        self.features = features

    def offers(self, keyword: str) -> bool:
        return keyword.upper() in self.features

    async def auth_xoauth2(self, username: str, access_token: str) -> None:
        mechanisms = self.features.get("AUTH", "").upper().split()
        if "XOAUTH2" not in mechanisms:
            raise UpstreamError("upstream does not offer AUTH XOAUTH2 (offers: %s)" % (
                " ".join(mechanisms) or "no AUTH"), temporary=False)
        initial = xoauth2_initial_response(username, access_token)
        if len(initial) + 13 <= MAX_INITIAL_RESPONSE_LINE:
            reply = await self.command("AUTH XOAUTH2 " + initial)
        else:
            reply = await self.command("AUTH XOAUTH2")
            if reply.code == 334:
                reply = await self.command(initial)
        challenge = None
        if reply.code == 334:
            # a refused token: the challenge carries a JSON status; an empty line gets the final reply
            challenge = decode_error_challenge(reply.text)
            reply = await self.command("")
        if reply.code != 235:
            raise AuthRefused(reply, challenge)

    def abort(self) -> None:
        self.stream.abort()

    @property
    def broken(self) -> bool:
        return self.stream.closed

    async def quit(self) -> None:
        try:
            if not self.stream.closed:
                await self.command("QUIT", timeout=min(5.0, self.command_timeout))
        except Exception:
            pass
        finally:
            self.stream.close()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "certificate verification failed (%s)" % (exc.verify_message or "untrusted")
    return str(exc) or type(exc).__name__
