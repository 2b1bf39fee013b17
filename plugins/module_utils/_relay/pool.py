# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A bounded pool of authenticated upstream connections per account.

Clients such as Postfix send one message per connection; reusing an
authenticated upstream connection saves the TCP+TLS handshake and the AUTH
(an introspection at the provider for some servers) on every message. A
connection goes back to the pool only after a complete transaction (or RSET)
and leaves it when idle too long, when its token nears expiry, or when the
server closed it.
"""

from __future__ import annotations

import asyncio
import time
from typing import List, Optional, Tuple

from . import log
from .background import spawn
from .tokens import TokenKeeper
from .stream import StreamClosed
from .upstream import AuthRefused, UpstreamConnection, UpstreamError, make_ssl_context


class UpstreamPool:
    def __init__(self, account, config, keeper: TokenKeeper, metrics) -> None:
        self.account = account
        self.name = account.name
        self.keeper = keeper
        self.metrics = metrics
        self.size = config.pool_size
        self.idle_timeout = config.pool_idle_timeout
        self.timeouts = config.timeouts
        self.local_hostname = config.hostname
        self.context = make_ssl_context(account.upstream.ca_file)  # one per account, reused
        self._idle: List[UpstreamConnection] = []
        self._slots = asyncio.Semaphore(self.size)
        self._closed = False
        self._reaper: Optional[asyncio.Task] = None
        self.features: dict = {}
        self.opened = 0

    def _usable(self, conn: UpstreamConnection) -> bool:
        if conn.broken:
            return False
        if time.monotonic() - conn.last_used > self.idle_timeout:
            return False
        return conn.token_expires_at - time.time() > self.keeper.min_validity

    async def acquire(self) -> Tuple[UpstreamConnection, bool]:
        """(connection, reused): an idle one or a newly authenticated one; waits for a free slot."""
        if self._slots.locked():
            try:
                await asyncio.wait_for(self._slots.acquire(), self.timeouts.command)
            except asyncio.TimeoutError:
                raise UpstreamError("all %d upstream connections of %s are busy" % (self.size, self.name))
        else:
            # a free slot is taken at once: no timeout (a timer or, before Python 3.12, a task) needed
            await self._slots.acquire()
        try:
            while self._idle:
                conn = self._idle.pop()  # most recently used first: the likeliest to be alive
                if self._usable(conn):
                    return conn, True
                spawn(conn.quit())
            return await self._open(), False
        except BaseException:
            self._slots.release()
            raise

    async def open_fresh(self) -> UpstreamConnection:
        """A new connection in place of a reused one that turned out dead (the slot stays held)."""
        return await self._open()

    async def _open(self) -> UpstreamConnection:
        record = await self.keeper.token()
        try:
            return await self._connect(record)
        except AuthRefused as refused:
            # A 535 is not proof the token is bad (some servers say so when their IdP is down):
            # renew once, then try once more.
            log.warning("upstream_auth_refused", account=self.name, reply=refused.reply.summary(),
                        status=(refused.challenge or {}).get("status"), action="renewing token once")
            record = await self.keeper.renew_after_refusal(record)
            return await self._connect(record)

    async def _connect(self, record) -> UpstreamConnection:
        upstream = self.account.upstream
        conn = await UpstreamConnection.open(
            upstream.host, upstream.port, upstream.security, self.context, upstream.server_hostname,
            self.local_hostname, self.timeouts.connect, self.timeouts.command)
        try:
            username = self.keeper.username
            if not username:
                raise UpstreamError("account %s: no mailbox username (set accounts[].username)" % self.name,
                                    temporary=False)
            await conn.auth_xoauth2(username, record.access_token)
        except (StreamClosed, asyncio.TimeoutError, OSError) as exc:
            conn.abort()
            raise UpstreamError("upstream %s:%d failed during AUTH: %s" % (
                upstream.host, upstream.port, str(exc) or type(exc).__name__))
        except BaseException:
            conn.abort()
            raise
        conn.token_expires_at = record.expires_at
        self.features = conn.features
        self.opened += 1
        self.metrics.inc("upstream_connections", self.name)
        log.debug("upstream_connected", account=self.name, host=upstream.host, port=upstream.port, tls=conn.tls)
        return conn

    def release(self, conn: Optional[UpstreamConnection], reusable: bool) -> None:
        """Give the slot back; keep the connection only if it is clean (no open transaction)."""
        self._slots.release()
        if conn is None:
            return
        conn.last_used = time.monotonic()
        if reusable and not self._closed and self._usable(conn):
            self._idle.append(conn)
        else:
            spawn(conn.quit())

    def start(self) -> None:
        if self._reaper is None:
            self._reaper = asyncio.ensure_future(self._reap())

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(max(1.0, min(self.idle_timeout / 2, 30.0)))
            keep = []
            for conn in self._idle:
                if self._usable(conn):
                    keep.append(conn)
                else:
                    spawn(conn.quit())
            self._idle[:] = keep

    async def close(self) -> None:
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        idle, self._idle = self._idle, []
        await asyncio.gather(*(conn.quit() for conn in idle), return_exceptions=True)
