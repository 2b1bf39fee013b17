# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One client SMTP session: local AUTH, then each command relayed live upstream.

MAIL and RCPT go upstream as they come, so the client gets upstream's own
answer for each (a refused recipient stays refused, 5xx stays 5xx, 4xx stays
4xx). The message is acknowledged only with upstream's final reply to DATA:
the helper never queues, so it never holds a message a client thinks sent.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import ipaddress
import itertools
import time
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from . import log
from .data_reader import BARE_CR, BARE_LF, BodyFramer, UpstreamBody
from .smtp_syntax import SyntaxRefused, check_mail_params, check_rcpt_params, command_line_refusal, parse_path
from .stream import LineStream, StreamClosed
from .tokens import KeeperStopped, TokenKeeper, TokenUnavailable
from .upstream import AuthRefused, PlaintextRefused, Reply, UpstreamConnection, UpstreamError, read_reply

if TYPE_CHECKING:  # for annotations only: the pool and the config need nothing from here
    from .config import Account
    from .pool import UpstreamPool

MAX_COMMAND_LINE = 4096
MAX_AUTH_FAILURES = 3
AUTH_MECHANISMS = ("PLAIN", "LOGIN")
# after our last words, a client that does not read them loses the connection anyway
CLOSE_GRACE = 5.0
# replies held for commands a client pipelined (RFC 2920) are sent at the latest at this size
MAX_HELD_REPLIES = 4096
_ids = itertools.count(1)


class ClientGone(Exception):
    pass


def _is_loopback(peer) -> bool:
    try:
        return _is_loopback_host(peer[0])
    except (TypeError, ValueError, IndexError):
        return peer is None or isinstance(peer, str)  # unix socket


@functools.lru_cache(maxsize=256)
def _is_loopback_host(host: str) -> bool:
    """Parsing an address costs more than the rest of accepting a session: once per client host."""
    return ipaddress.ip_address(host).is_loopback


def _abort_quietly(stream) -> None:
    try:
        stream.abort()
    except Exception:
        pass


# EHLO replies as sent, by their content: a handful (STARTTLS and AUTH offered or not, the upstream's
# extensions), formatted once instead of on every session
_EHLO_REPLIES: Dict[Tuple[str, ...], bytes] = {}
MAX_EHLO_REPLIES = 64


def _ehlo_reply(hostname: str, extensions: List[str]) -> bytes:
    key = (hostname, *extensions)
    wire = _EHLO_REPLIES.get(key)
    if wire is None:
        if len(_EHLO_REPLIES) >= MAX_EHLO_REPLIES:  # reloads with other hostnames or extensions
            _EHLO_REPLIES.clear()
        wire = _EHLO_REPLIES[key] = Reply(250, list(key)).wire()
    return wire


def _b64(text: str) -> Optional[str]:
    try:
        return base64.b64decode(text.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


class Session:
    def __init__(self, relay, stream: LineStream) -> None:
        self.relay = relay
        self.config = relay.config
        self.stream = stream
        self.id = "%x" % next(_ids)
        self.peer = stream.peer
        self.helo: Optional[str] = None
        self.esmtp = False
        self.account: Optional[Account] = None
        self.keeper: Optional[TokenKeeper] = None
        self.pool: Optional[UpstreamPool] = None
        self.auth_failures = 0
        self.idle = False
        self.expired = False  # the session reached timeouts.session: it ends after this transaction
        self.messages = 0
        self.loopback = _is_loopback(self.peer)  # the peer does not change: decided once
        self._held: List[bytes] = []  # replies to pipelined commands, sent together
        self._held_size = 0
        self._timers: List[asyncio.TimerHandle] = []
        self._reset_transaction()

    def _reset_transaction(self) -> None:
        self.mail_from: Optional[str] = None
        self.accepted = 0
        self.upstream: Optional[UpstreamConnection] = None
        # MAIL sent upstream without waiting (upstream PIPELINING): its reply is read with the first RCPT
        self.mail_command: Optional[str] = None
        self.mail_pending = False
        # DATA sent upstream with MAIL and the first RCPT (the client pipelined it): its reply is unread
        self.data_pending = False
        self.mail_refusal: Optional[Reply] = None
        self.started = 0.0

    @property
    def secure(self) -> bool:
        return self.loopback or bool(self.stream.tls_version())

    # -- I/O ---------------------------------------------------------------
    async def reply(self, data) -> None:
        """Send a reply; while the client has more commands waiting (it pipelines, RFC 2920),
        hold it and send it with the replies to those: one write for a MAIL, RCPT, DATA group."""
        if isinstance(data, Reply):
            data = data.wire()
        elif isinstance(data, str):
            data = (data + "\r\n").encode("utf-8", "surrogateescape")
        if self.stream.has_line() and self._held_size + len(data) <= MAX_HELD_REPLIES:
            self._held.append(data)
            self._held_size += len(data)
            return
        self.stream.write(self._with_held(data))
        await self.stream.drain()

    def _with_held(self, data: bytes) -> bytes:
        if not self._held:
            return data
        self._held.append(data)
        data = b"".join(self._held)
        self._held, self._held_size = [], 0
        return data

    async def readline(self, timeout: float) -> bytes:
        """A whole line from the client within ``timeout``; else 421 and the end."""
        try:
            line = await self.stream.readline(timeout)
        except asyncio.TimeoutError:
            self._expire("client_timeout", "421 4.4.2 %s Timeout, closing connection" % self.config.hostname)
            raise ClientGone()
        if not line:
            raise ClientGone()
        return line

    async def _say_and_close(self, text: str) -> None:
        self._close_with(text)

    def _close_with(self, text: str) -> None:
        """Last words, then close, without waiting: callable from timers and from shutdown."""
        try:
            self.stream.write(self._with_held((text + "\r\n").encode("utf-8", "surrogateescape")))
        except Exception:
            pass
        self.stream.close()  # sends what is buffered first
        if self.stream.unsent():
            # only a client that does not read its last words needs the timer (which holds the
            # stream, and its buffers, until it fires)
            asyncio.get_running_loop().call_later(CLOSE_GRACE, _abort_quietly, self.stream)

    # -- deadlines that no trickle of bytes can extend ---------------------------
    def _start_deadlines(self) -> None:
        loop, timeouts = asyncio.get_running_loop(), self.config.timeouts
        self._timers = [loop.call_later(timeouts.auth, self._auth_deadline),
                        loop.call_later(timeouts.session, self._session_deadline)]

    def _cancel_deadlines(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    def _expire(self, event: str, text: str) -> None:
        log.info(event, session=self.id, peer=self.peer[0] if isinstance(self.peer, tuple) else None,
                 account=self.account.name if self.account else None)
        self._close_with(text)

    def _auth_deadline(self) -> None:
        if self.account is None:
            self._expire("auth_timeout", "421 4.7.0 %s Authentication timeout, closing connection"
                         % self.config.hostname)

    def _session_deadline(self) -> None:
        text = "421 4.4.2 %s Session too long, closing connection" % self.config.hostname
        if self.idle:
            return self._expire("session_timeout", text)
        # in a transaction: it may finish (the loop ends the session after it), within timeouts.data
        self.expired = True
        self._timers.append(asyncio.get_running_loop().call_later(
            self.config.timeouts.data, self._expire, "session_timeout", text))

    async def _read_command(self) -> Optional[str]:
        """The next command line, read within one timeout however slowly it trickles in; None
        (after a 500) for an overlong line. Holding an upstream connection, a client gets
        ``timeouts.command`` for it, as upstream would give us, not ``timeouts.client``."""
        timeouts = self.config.timeouts
        timeout = timeouts.command if self.upstream is not None else timeouts.client
        self.idle = self.mail_from is None
        try:
            # one deadline for the whole line (a trickle of bytes does not extend it)
            raw = await self.readline(timeout)
            if not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):  # the rest of an overlong line
                    raw = await self.readline(timeout)
                await self.reply("500 5.5.6 Line too long")
                return None
        finally:
            self.idle = False
        if len(raw) > MAX_COMMAND_LINE:
            await self.reply("500 5.5.6 Line too long")
            return None
        refusal = command_line_refusal(raw, self.config.bare_newlines)
        if refusal is not None:
            await self.reply(refusal)
            return None
        return raw.decode("utf-8", "surrogateescape").rstrip("\r\n")

    def _ending(self) -> Optional[str]:
        """Why the session must end before its next command, if it must."""
        if self.mail_from is not None:
            return None
        if self.relay.draining:
            return "421 4.3.2 %s Service shutting down" % self.config.hostname
        if self.expired:
            return "421 4.4.2 %s Session too long, closing connection" % self.config.hostname
        return None

    # -- main loop -----------------------------------------------------------
    async def run(self) -> None:
        self._start_deadlines()
        try:
            await self.reply("220 %s ESMTP xoauth2-relay" % self.config.hostname)
            while await self._one_command():
                pass
        except (ClientGone, StreamClosed, ConnectionError):
            pass
        except KeeperStopped:  # shutting down while this session waited for a token
            await self._say_and_close("421 4.3.2 %s Service shutting down" % self.config.hostname)
        except Exception as exc:  # a bug must cost this session only, and never look like success
            log.error("session_error", session=self.id, error=type(exc).__name__)
            await self._drop_upstream(abort=True)
            await self._say_and_close("451 4.3.0 Internal error; try again later")
        finally:
            self._cancel_deadlines()
            await self._drop_upstream(abort=True)
            if self._held:  # replies still held when the session ended another way
                try:
                    self.stream.write(self._with_held(b""))
                except Exception:
                    pass
            self.stream.close()

    async def _one_command(self) -> bool:
        """Read and run one command; False when the session is over."""
        ending = self._ending()
        if ending:
            await self._say_and_close(ending)
            return False
        line = await self._read_command()
        if line is None:
            return True
        verb, dummy, arg = line.partition(" ")
        handler = getattr(self, "smtp_" + verb.upper(), None) if verb.isalpha() else None
        if handler is None:
            await self.reply("500 5.5.2 Command not recognized")
            return True
        return await handler(arg.strip()) is not False

    async def _drop_upstream(self, abort: bool) -> None:
        conn, self.upstream = self.upstream, None
        if conn is None:
            return
        if abort or self.data_pending:  # an unread answer to DATA: RSET would read it as its own
            self.data_pending = False
            conn.abort()
            self.pool.release(conn, reusable=False)
            return
        try:
            if self.mail_pending:  # MAIL was never sent: nothing to reset
                self.mail_pending = False
                self.pool.release(conn, reusable=True)
                return
            reply = await conn.command("RSET")
            self.pool.release(conn, reusable=reply.code == 250)
        except Exception:
            conn.abort()
            self.pool.release(conn, reusable=False)

    # -- greeting and TLS ------------------------------------------------------
    def _extensions(self) -> List[str]:
        ext = ["PIPELINING", "SIZE %d" % self.config.max_message_size]
        for keyword in self.relay.common_features():
            ext.append(keyword)
        ext.append("ENHANCEDSTATUSCODES")
        if self.relay.server_tls and not self.stream.tls_version():
            ext.append("STARTTLS")
        if self.secure and self.account is None:
            ext.append("AUTH PLAIN LOGIN")
        return ext

    async def smtp_EHLO(self, arg: str):
        if not arg:
            return await self.reply("501 5.5.4 Syntax: EHLO hostname")
        await self._drop_upstream(abort=False)
        self._reset_transaction()
        self.helo, self.esmtp = arg, True
        await self.reply(_ehlo_reply(self.config.hostname, self._extensions()))

    async def smtp_HELO(self, arg: str):
        if not arg:
            return await self.reply("501 5.5.4 Syntax: HELO hostname")
        await self._drop_upstream(abort=False)
        self._reset_transaction()
        self.helo, self.esmtp = arg, False
        await self.reply("250 %s" % self.config.hostname)

    async def smtp_STARTTLS(self, arg: str):
        if not self.relay.server_tls or self.stream.tls_version():
            return await self.reply("502 5.5.1 STARTTLS not available")
        if arg:
            return await self.reply("501 5.5.4 Syntax: STARTTLS")
        if self.stream.has_buffered():
            # RFC 3207: commands pipelined after STARTTLS would be injected into the TLS session
            await self._say_and_close("554 5.5.1 Pipelining STARTTLS is not allowed")
            return False
        await self.reply("220 2.0.0 Ready to start TLS")
        try:
            await self.stream.start_tls(self.relay.server_tls, server_side=True, timeout=self.config.timeouts.connect)
        except Exception:
            self.stream.abort()
            return False
        self.helo = None
        self._reset_transaction()

    # -- precondition guards (each replies itself when the command may not go on) --
    async def _check_helo(self, esmtp: bool = False) -> bool:
        if self.helo is None or (esmtp and not self.esmtp):
            await self.reply("503 5.5.1 Send EHLO first")
            return False
        return True

    async def _check_auth_allowed(self) -> bool:
        if self.account is not None:
            await self.reply("503 5.5.1 Already authenticated")
        elif self.mail_from is not None:
            await self.reply("503 5.5.1 AUTH not allowed during a mail transaction")
        elif not self.secure:
            await self.reply("538 5.7.11 Encryption required: use STARTTLS first")
        else:
            return True
        return False

    # -- local authentication ----------------------------------------------
    async def smtp_AUTH(self, arg: str):
        if not await self._check_helo(esmtp=True) or not await self._check_auth_allowed():
            return
        mechanism, dummy, initial = arg.partition(" ")
        mechanism = mechanism.upper()
        if mechanism not in AUTH_MECHANISMS:
            return await self.reply("504 5.5.4 Unrecognized authentication mechanism (use PLAIN or LOGIN)")
        credentials = await getattr(self, "auth_" + mechanism)(initial.strip())
        if credentials is None:
            return None
        return await self._login(*credentials)

    async def auth_PLAIN(self, initial: str):
        """(username, secret) from RFC 4616 PLAIN, or None after replying."""
        if not initial:
            initial = await self._challenge("")
            if initial is None:
                return None
        decoded = _b64(initial) if initial != "=" else ""
        parts = decoded.split("\0") if decoded is not None else []
        if len(parts) != 3 or (parts[0] and parts[0] != parts[1]):
            await self.reply("501 5.5.2 Malformed AUTH PLAIN response")
            return None
        return parts[1], parts[2]

    async def auth_LOGIN(self, initial: str):
        """(username, secret) from the LOGIN exchange, or None after replying."""
        answer = initial or await self._challenge("VXNlcm5hbWU6")
        if answer is None:
            return None
        username = _b64(answer)
        answer = await self._challenge("UGFzc3dvcmQ6")
        if answer is None:
            return None
        secret = _b64(answer)
        if username is None or secret is None:
            await self.reply("501 5.5.2 Malformed AUTH LOGIN response")
            return None
        return username, secret

    async def _challenge(self, prompt: str) -> Optional[str]:
        await self.reply("334 %s" % prompt)
        answer = (await self.readline(self.config.timeouts.client)).decode("ascii", "replace").strip()
        if answer == "*":
            await self.reply("501 5.0.0 Authentication cancelled")
            return None
        return answer

    async def _login(self, username: str, secret: str):
        """Check the credentials (throttled); the session's account on success."""
        guard = self.relay.auth_guard
        started = time.monotonic()
        locked = guard.locked(username)
        account = None if locked else await self.relay.authenticate(username, secret)
        if account is None:
            return await self._auth_failed(username, locked, started)
        guard.succeeded(username)
        self.account = account
        self.keeper, self.pool = self.relay.handles(account.name)
        log.debug("auth_ok", session=self.id, account=account.name)
        await self.reply("235 2.7.0 Authentication successful")
        return None

    async def _auth_failed(self, username: str, locked: Optional[str], started: float):
        """Answer a failure after the guard's delay, counted from the attempt: a known user
        (whose check costs a PBKDF2) and an unknown one look the same from outside."""
        guard = self.relay.auth_guard
        delay = guard.settings.failure_delay if locked else guard.failed(username)
        self.auth_failures += 1
        dropped = guard.log_allowed(username)
        if dropped is not None:
            log.warning("auth_failed", session=self.id, peer=self.peer[0] if isinstance(self.peer, tuple) else None,
                        username=username[:64], failures=guard.failures(username), locked=locked,
                        suppressed=dropped or None)
        await asyncio.sleep(max(0.0, started + delay - time.monotonic()))
        if self.auth_failures >= MAX_AUTH_FAILURES:
            await self._say_and_close("421 4.7.0 Too many authentication failures")
            return False
        if locked or guard.locked(username):
            return await self.reply("454 4.7.0 Too many authentication failures; try again later")
        return await self.reply("535 5.7.8 Authentication credentials invalid")

    # -- the mail transaction ----------------------------------------------
    async def smtp_MAIL(self, arg: str):
        if self.helo is None:
            return await self.reply("503 5.5.1 Send EHLO first")
        if self.account is None:
            return await self.reply("530 5.7.0 Authentication required")
        if self.mail_from is not None:
            return await self.reply("503 5.5.1 Nested MAIL command")
        try:
            path, params = parse_path(arg, "FROM")
            check_mail_params(params)
        except SyntaxRefused as exc:
            return await self.reply(exc.reply)
        if "SIZE" in params and int(params["SIZE"]) > self.config.max_message_size:
            return await self.reply("552 5.3.4 Message size exceeds fixed limit")
        if self.relay.draining:
            return await self.reply("421 4.3.2 Service shutting down")
        self.started = time.monotonic()
        conn = await self._connect_upstream()
        if conn is None:
            return
        forwarded = self._mail_params(conn, params)
        if forwarded is None:
            self.pool.release(conn, reusable=True)
            return await self.reply("553 5.6.7 The upstream server does not accept SMTPUTF8 messages")
        command = "MAIL FROM:%s%s" % (path, forwarded)
        if conn.offers("PIPELINING") and not conn.broken:
            # MAIL goes upstream together with the first RCPT, in one write (as Postfix's own client
            # pipelines): one upstream round trip less per message. A refusal of the sender is then
            # given, with upstream's own code, to each RCPT.
            self.upstream, self.mail_from, self.mail_command, self.mail_pending = conn, path, command, True
            return await self.reply("250 2.1.0 Ok")
        reply = await self._mail_now(conn, command)
        if reply is None:
            return
        if reply.code != 250:
            self.pool.release(self.upstream, reusable=not self.upstream.broken)
            self.upstream = None
            return await self.reply(reply)
        self.mail_from = path
        await self.reply(reply)

    async def _mail_now(self, conn, command: str) -> Optional[Reply]:
        """MAIL upstream, waiting for the reply; a dead reused connection is replaced once."""
        try:
            reply = await conn.command(command)
            if reply.code == 421 and conn.reused:
                raise StreamClosed("upstream closed the idle connection (%s)" % reply.summary())
        except (StreamClosed, asyncio.TimeoutError, UpstreamError, OSError) as exc:
            conn.abort()
            if not conn.reused:
                self.pool.release(conn, reusable=False)
                await self._upstream_lost(exc)
                return None
            # a reused connection the server had closed: nothing was committed, open a fresh one
            try:
                conn = await self.pool.open_fresh()
                reply = await conn.command(command)
            except (TokenUnavailable, AuthRefused, UpstreamError, StreamClosed, asyncio.TimeoutError,
                    OSError) as exc2:
                self.pool.release(None, reusable=False)
                self._reset_transaction()
                await self._connect_failed(exc2)
                return None
        self.upstream = conn
        return reply

    async def _pending_mail_reply(self, rcpt_line: str):
        """(mail reply, rcpt reply) for a pipelined MAIL and the first RCPT, or None after replying.

        When the client pipelined DATA right after this RCPT, DATA goes upstream in the same
        write (MAIL, RCPT, DATA: one write, one round trip); its reply is read by ``smtp_DATA``."""
        conn = self.upstream
        with_data = self.stream.next_line_is(b"DATA\r\n")
        data = ("%s\r\n%s\r\n%s" % (self.mail_command, rcpt_line, "DATA\r\n" if with_data else "")).encode(
            "utf-8", "surrogateescape")
        try:
            conn.stream.write(data)
            mail_reply = await read_reply(conn.stream, self.config.timeouts.command)
            if mail_reply.code == 421 and conn.reused:
                # the server timed the pooled connection out just now: nothing committed, replay
                raise StreamClosed("upstream closed the idle connection (%s)" % mail_reply.summary())
            rcpt_reply = await read_reply(conn.stream, self.config.timeouts.command)
            self.data_pending = with_data
        except (StreamClosed, asyncio.TimeoutError, UpstreamError, OSError) as exc:
            self.mail_pending = False
            if not conn.reused:
                await self._drop_upstream(abort=True)
                await self._upstream_lost(exc)
                return None
            self.upstream = None
            conn.abort()
            conn.reused = True  # so _mail_now may replace it
            mail_reply = await self._mail_now(conn, self.mail_command)
            if mail_reply is None:
                return None
            if mail_reply.code != 250:
                return mail_reply, None
            try:
                # _mail_now put a connection in self.upstream again (mypy keeps it narrowed to None)
                rcpt_reply = await self.upstream.command(rcpt_line)  # type: ignore[attr-defined]
            except (StreamClosed, asyncio.TimeoutError, UpstreamError, OSError) as exc2:
                await self._drop_upstream(abort=True)
                await self._upstream_lost(exc2)
                return None
        self.mail_pending = False
        return mail_reply, rcpt_reply

    def _mail_params(self, conn, params) -> Optional[str]:
        out = []
        for key, value in params.items():
            if key == "SIZE" and conn.offers("SIZE"):
                out.append("SIZE=%s" % value)
            elif key == "BODY" and (conn.offers("8BITMIME") or (value or "").upper() == "7BIT"):
                out.append("BODY=%s" % value)
            elif key == "SMTPUTF8":
                if not conn.offers("SMTPUTF8"):
                    return None
                out.append("SMTPUTF8")
            elif key in ("RET", "ENVID") and conn.offers("DSN"):
                out.append("%s=%s" % (key, value))
            # AUTH= (RFC 4954) and DSN without upstream support are dropped
        return "".join(" " + item for item in out)

    async def _connect_upstream(self):
        try:
            conn, reused = await self.pool.acquire()
        except (TokenUnavailable, AuthRefused, UpstreamError) as exc:
            await self._connect_failed(exc)
            return None
        conn.reused = reused
        return conn

    async def _connect_failed(self, exc) -> None:
        if isinstance(exc, TokenUnavailable):
            log.warning("deferred", session=self.id, account=self.account.name, reason="no token",
                        category=exc.category)
            self.relay.metrics.inc("messages_deferred", self.account.name)
            hint = "sign-in required" if exc.category == "reauth_required" else exc.category
            return await self.reply("454 4.7.0 Cannot obtain an OAuth2 token for this account (%s); "
                                    "try again later" % hint)
        if isinstance(exc, AuthRefused):
            log.warning("deferred", session=self.id, account=self.account.name, reason="upstream refused token",
                        upstream=exc.reply.summary())
            self.relay.metrics.inc("messages_deferred", self.account.name)
            return await self.reply("454 4.7.0 Upstream refused the OAuth2 token (%d); try again later"
                                    % exc.reply.code)
        log.warning("deferred", session=self.id, account=self.account.name, reason="upstream unavailable",
                    error=getattr(exc, "message", None) or type(exc).__name__)
        self.relay.metrics.inc("messages_deferred", self.account.name)
        if isinstance(exc, PlaintextRefused):
            return await self.reply("454 4.7.0 Upstream offers no TLS; refusing to send credentials")
        return await self.reply("451 4.4.1 Upstream server unavailable; try again later")

    async def _upstream_lost(self, exc) -> None:
        log.warning("upstream_lost", session=self.id, account=self.account.name,
                    error=getattr(exc, "message", None) or type(exc).__name__)
        self.relay.metrics.inc("messages_deferred", self.account.name)
        self._reset_transaction()
        await self.reply("451 4.4.2 Upstream connection lost; try again later")

    async def _upstream_call(self, command: str, timeout: Optional[float] = None) -> Optional[Reply]:
        try:
            return await self.upstream.command(command, timeout)
        except (StreamClosed, asyncio.TimeoutError, UpstreamError, OSError) as exc:
            await self._drop_upstream(abort=True)
            await self._upstream_lost(exc)
            return None

    async def smtp_RCPT(self, arg: str):
        if self.mail_from is None or self.upstream is None:
            return await self.reply("503 5.5.1 Need MAIL command")
        try:
            path, params = parse_path(arg, "TO")
            check_rcpt_params(params)
        except SyntaxRefused as exc:
            return await self.reply(exc.reply)
        if self.accepted >= self.config.max_recipients:
            return await self.reply("452 4.5.3 Too many recipients")
        forwarded = ""
        if self.upstream.offers("DSN"):
            forwarded = "".join(" %s=%s" % (k, v) for k, v in params.items())
        line = "RCPT TO:%s%s" % (path, forwarded)
        if self.mail_refusal is not None:
            return await self.reply(self.mail_refusal)
        if self.mail_pending:
            replies = await self._pending_mail_reply(line)
            if replies is None:
                return
            mail_reply, reply = replies
            if mail_reply.code != 250:
                # upstream refused the sender: its answer stands for every recipient of this mail
                log.info("sender_refused", session=self.id, account=self.account.name, sender=self.mail_from,
                         upstream=mail_reply.summary())
                self.mail_refusal = mail_reply
                return await self.reply(mail_reply)
        else:
            reply = await self._upstream_call(line)
        if reply is None:
            return
        if 200 <= reply.code < 300:
            self.accepted += 1
        await self.reply(reply)

    async def smtp_DATA(self, arg: str):
        if self.mail_from is None or self.upstream is None:
            return await self.reply("503 5.5.1 Need MAIL command")
        if not self.accepted:
            if self.data_pending:
                await self._refused_early_data()
            return await self.reply("554 5.5.1 No valid recipients")
        # Ask upstream for DATA now (unless it went with MAIL and RCPT) and read the client's
        # message meanwhile: upstream's 354 is there by the time the first chunk of the message
        # is, which takes a round trip off every message.
        conn = self.upstream
        try:
            if not self.data_pending:
                conn.stream.write(b"DATA\r\n")
            self.data_pending = False  # the body's sender reads upstream's answer
        except StreamClosed as exc:
            await self._drop_upstream(abort=True)
            return await self._upstream_lost(exc)
        await self.reply("354 End data with <CR><LF>.<CR><LF>")
        body = UpstreamBody(conn, self.config.timeouts.command, self.config.timeouts.data)
        framer = await self._read_body(body)
        if framer.problem is not None:
            return await self._refuse_body(framer)
        sent_at = time.monotonic()
        reply = None if body.failed else await body.finish()
        if reply is None:
            return await self._body_not_sent(body, framer.size)
        self.relay.metrics.upstream_latency(self.account.name, time.monotonic() - sent_at)
        conn, self.upstream = self.upstream, None
        conn.transactions += 1
        self.pool.release(conn, reusable=not conn.broken)
        self._finish(reply, framer.size)
        await self.reply(reply)
        if self.relay.draining:
            await self._say_and_close("421 4.3.2 %s Service shutting down" % self.config.hostname)
            return False

    async def _refused_early_data(self) -> None:
        """Upstream's answer to a DATA sent with no recipient accepted: read, never answered with a body."""
        self.data_pending = False
        try:
            reply = await read_reply(self.upstream.stream, self.config.timeouts.command)
        except (StreamClosed, asyncio.TimeoutError, UpstreamError, OSError):
            reply = None
        if reply is None or reply.code == 354:  # lost, or a server ready for a message nobody gets
            await self._drop_upstream(abort=True)
            self._reset_transaction()

    async def _refuse_body(self, framer: BodyFramer):
        """A message refused locally; upstream was cut off before its final dot, so nothing went."""
        await self._drop_upstream(abort=True)
        self.relay.metrics.inc("messages_rejected", self.account.name)
        if framer.problem in (BARE_LF, BARE_CR):
            what = "<LF>" if framer.problem == BARE_LF else "<CR>"
            self._log_message(framer.size, "550 5.5.2 bare %s (local)" % what)
            self._reset_transaction()
            return await self.reply("550 5.5.2 Message refused: bare %s received; lines must end with "
                                    "<CR><LF>" % what)
        self._log_message(framer.size, "552 5.3.4 size limit (local)")
        self._reset_transaction()
        return await self.reply("552 5.3.4 Message size exceeds fixed limit")

    async def _body_not_sent(self, body: UpstreamBody, size: int):
        if body.refusal is not None:  # upstream answered DATA with something else than 354
            await self._drop_upstream(abort=False)
            self._finish(body.refusal, size)
            return await self.reply(body.refusal)
        await self._drop_upstream(abort=True)
        self._log_message(size, "451 upstream lost")
        return await self._upstream_lost(body.error)

    def _finish(self, reply: Reply, size: int) -> None:
        account = self.account.name
        if 200 <= reply.code < 300:
            self.messages += 1
            self.relay.metrics.inc("messages_relayed", account)
        elif reply.code >= 500:
            self.relay.metrics.inc("messages_rejected", account)
        else:
            self.relay.metrics.inc("messages_deferred", account)
        self._log_message(size, reply.summary())
        self._reset_transaction()

    def _log_message(self, size: int, reply: str) -> None:
        log.info("message", session=self.id, account=self.account.name, sender=self.mail_from,
                 rcpts=self.accepted, size=size, upstream=reply,
                 duration_ms=int((time.monotonic() - self.started) * 1000))

    async def _read_body(self, body: UpstreamBody) -> BodyFramer:
        """Frame the client's message and stream it upstream until <CRLF>.<CRLF>."""
        framer = BodyFramer(self.config.bare_newlines, self.config.max_message_size)
        while not framer.done:
            chunk = await self._read_chunk(self.config.timeouts.data)
            out, leftover = framer.feed(chunk)
            if leftover:
                self.stream.unread(leftover)  # commands pipelined after the message
            if framer.problem is not None and not body.cancelled:
                # never delivered: upstream is cut off now, not after the client's last byte
                body.cancel()
                await self._drop_upstream(abort=True)
            await body.add(out)
            if body.failed and self.upstream is not None:
                await self._drop_upstream(abort=body.refusal is None)
        return framer

    async def _read_chunk(self, timeout: float) -> bytes:
        try:
            chunk = await self.stream.read_chunk(timeout)
        except asyncio.TimeoutError:
            await self._say_and_close("421 4.4.2 %s Timeout, closing connection" % self.config.hostname)
            raise ClientGone()
        if not chunk:
            raise ClientGone()
        return chunk

    # -- the rest ----------------------------------------------------------
    async def smtp_RSET(self, arg: str):
        await self._drop_upstream(abort=False)
        self._reset_transaction()
        await self.reply("250 2.0.0 Ok")

    async def smtp_NOOP(self, arg: str):
        await self.reply("250 2.0.0 Ok")

    async def smtp_VRFY(self, arg: str):
        await self.reply("252 2.5.2 Cannot verify; send the message and see")

    async def smtp_HELP(self, arg: str):
        await self.reply("214 2.0.0 See RFC 5321")

    async def smtp_QUIT(self, arg: str):
        await self._drop_upstream(abort=False)
        await self._say_and_close("221 2.0.0 Bye")
        return False
