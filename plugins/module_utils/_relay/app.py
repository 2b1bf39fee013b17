# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""``serve``: the listener, per-account token keepers and pools, signals, reload, metrics."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import ssl
from typing import Any, Dict, List, Optional, Set, Tuple

from . import log
from .auth_guard import AuthGuard
from .background import spawn
from .config import Config, ConfigError, load_config
from .metrics import Metrics
from .pool import UpstreamPool
from .secrets import dummy_check
from .smtp_server import Session
from .stream import LineStream
from .tokens import TokenKeeper, make_notifier
from .worker import DaemonExecutor

# extensions we relay faithfully when every upstream offers them
RELAYED_EXTENSIONS = ("8BITMIME", "SMTPUTF8", "DSN")


class Relay:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.metrics = Metrics()
        # daemon threads: a renewal hung at the provider cannot hold the process after shutdown
        self.executor = DaemonExecutor(4, "xoauth2-token")
        # PBKDF2 of local secrets, off the event loop and bounded (it also releases the GIL)
        self.hash_executor = DaemonExecutor(config.auth.hash_workers, "xoauth2-hash")
        self.auth_guard = AuthGuard(config.auth)
        self.keepers: Dict[str, TokenKeeper] = {}
        self.pools: Dict[str, UpstreamPool] = {}
        self.sessions: Set[Session] = set()
        self.draining = False
        self.server: Optional[asyncio.AbstractServer] = None
        self.server_tls: Optional[ssl.SSLContext] = None
        self._stopped: Optional[asyncio.Event] = None
        self._tasks: List["asyncio.Future[Any]"] = []
        self.port: Optional[int] = None

    # -- accounts ------------------------------------------------------------
    def _build(self, account) -> None:
        keeper = TokenKeeper(account, self.config, self.executor, self.metrics)
        pool = UpstreamPool(account, self.config, keeper, self.metrics)
        self.keepers[account.name], self.pools[account.name] = keeper, pool
        keeper.start()
        pool.start()

    def handles(self, name: str) -> Tuple[TokenKeeper, UpstreamPool]:
        return self.keepers[name], self.pools[name]

    async def authenticate(self, username: str, secret: str):
        """The account these credentials open, or None; an unknown user costs what a known one does."""
        account = self.config.by_local_username(username)
        verifier = account.verifier if account is not None else None
        matched = verifier.check_fast(secret) if verifier is not None else None
        if matched is None:
            if verifier is not None:
                check = functools.partial(verifier.check_slow, secret)
            else:
                rounds = max((a.verifier.iterations for a in self.config.accounts), default=0)
                check = functools.partial(dummy_check, secret, rounds)
            matched = await asyncio.get_running_loop().run_in_executor(self.hash_executor, check)
        return account if matched else None

    def common_features(self):
        """Extensions every upstream offered (as last seen); before any is known, just 8BITMIME."""
        known = [pool.features for pool in self.pools.values() if pool.features]
        if not known:
            return ["8BITMIME"]
        return [ext for ext in RELAYED_EXTENSIONS if all(ext in features for features in known)]

    # -- lifecycle -----------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        if self.config.tls_cert_file:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.config.tls_cert_file, self.config.tls_key_file)
            self.server_tls = context
        for account in self.config.accounts:
            self._build(account)
        self.server = await loop.create_server(
            lambda: LineStream(on_connect=self._accept), self.config.listen_host, self.config.listen_port,
            reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]
        for sig, handler in ((signal.SIGTERM, self.request_stop), (signal.SIGINT, self.request_stop),
                             (signal.SIGHUP, self.request_reload)):
            try:
                loop.add_signal_handler(sig, handler)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not in the main thread (tests)
        if self.config.metrics_file:
            self._tasks.append(asyncio.ensure_future(self._write_metrics_forever()))
        self._tasks.append(asyncio.ensure_future(self._deliver_notices_forever()))
        log.info("listening", address="%s:%d" % (self.config.listen_host, self.port),
                 accounts=",".join(a.name for a in self.config.accounts), pid=os.getpid())

    def _accept(self, stream: LineStream) -> None:
        if self.draining or len(self.sessions) >= self.config.max_sessions:
            stream.write(b"421 4.3.2 Too busy or shutting down, try again later\r\n")
            stream.close()
            return
        if sum(1 for s in self.sessions if s.account is None) >= self.config.auth.max_unauthenticated:
            # slow or idle clients that never log in must not take the slots of those that do
            log.warning("connection_refused", reason="too many sessions awaiting authentication",
                        peer=stream.peer[0] if isinstance(stream.peer, tuple) else None)
            stream.write(b"421 4.7.0 Too many connections awaiting authentication, try again later\r\n")
            stream.close()
            return
        session = Session(self, stream)
        # the greeting goes out now, not one loop round later
        task = spawn(session.run(), eager=True)
        self.sessions.add(session)
        task.add_done_callback(lambda _t: self.sessions.discard(session))

    def request_stop(self) -> None:
        if not self.draining:
            log.info("stopping", sessions=len(self.sessions))
            spawn(self.stop())

    def request_reload(self) -> None:
        spawn(self.reload())

    async def reload(self) -> bool:
        """Re-read the configuration; sessions keep running on what they started with."""
        try:
            new = load_config(self.config.path)
        except ConfigError as exc:
            log.error("reload_failed", error=str(exc), action="keeping the running configuration")
            return False
        if (new.listen_host, new.listen_port) != (self.config.listen_host, self.config.listen_port):
            log.warning("reload_listen_ignored", reason="changing the listen address needs a restart")
        old_accounts = {a.name: a for a in self.config.accounts}
        old = self.config
        self.config = new
        log.set_level(new.log_level)
        self.auth_guard.configure(new.auth)
        for account in new.accounts:
            previous = old_accounts.pop(account.name, None)
            if previous is not None and previous.fingerprint == account.fingerprint and \
                    (old.pool_size, old.pool_idle_timeout) == (new.pool_size, new.pool_idle_timeout):
                keeper = self.keepers[account.name]
                keeper.account = account
                keeper.session.notifier = make_notifier(account, new.notify)
                keeper.keepalive_interval = new.keepalive_interval
                keeper.retry_backoff = new.token_retry_backoff
                continue
            if previous is not None:
                await self._retire(account.name)
            self._build(account)
        for name in old_accounts:
            await self._retire(name)
        log.info("reloaded", accounts=",".join(a.name for a in new.accounts))
        return True

    async def _retire(self, name: str) -> None:
        keeper, pool = self.keepers.pop(name), self.pools.pop(name)
        self.metrics.expiry.pop(name, None)
        await pool.close()  # sessions still using it finish; their connections close on release
        await keeper.stop()

    async def stop(self) -> None:
        """Stop accepting, let sessions in flight finish, then close everything, all within
        ``timeouts.shutdown``: no token renewal starts after this, and none is waited for longer."""
        if self.draining:
            return
        self.draining = True
        deadline = asyncio.get_running_loop().time() + self.config.timeouts.shutdown
        if self.server is not None:
            self.server.close()
        for keeper in self.keepers.values():
            keeper.close()  # sessions waiting for a renewal get 421 now
        await self._drain_sessions(deadline)
        for task in self._tasks:
            task.cancel()
        for name in list(self.pools):
            await self._retire(name)
        if self.config.metrics_file:
            self._write_metrics()
        await self._let_renewals_finish(deadline)
        self.executor.shutdown(wait=False)
        self.hash_executor.shutdown(wait=False, cancel_futures=True)
        log.info("stopped")
        self._stopped.set()

    async def _drain_sessions(self, deadline: float) -> None:
        for session in list(self.sessions):
            if session.idle:  # between transactions: tell it now
                await session._say_and_close("421 4.3.2 %s Service shutting down" % self.config.hostname)
        loop = asyncio.get_running_loop()
        while self.sessions and loop.time() < deadline:
            await asyncio.sleep(0.05)
        for session in list(self.sessions):
            log.warning("session_aborted", session=session.id, reason="shutdown timeout")
            session.stream.abort()

    async def _let_renewals_finish(self, deadline: float) -> None:
        """A renewal already running may be saving a rotated refresh token: give it what is left."""
        loop = asyncio.get_running_loop()
        while self.executor.busy and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if self.executor.busy:
            log.warning("token_renewal_abandoned", reason="shutdown timeout")

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    # -- notices ---------------------------------------------------------------
    async def _deliver_notices_forever(self) -> None:
        """Every few seconds, send notices left pending (a cheap read of each .status when none is)."""
        while True:
            notify = self.config.notify
            await asyncio.sleep(min(notify.retry_interval, 30.0) if notify is not None else 30.0)
            for keeper in list(self.keepers.values()):
                await keeper.deliver_pending_notice()

    # -- metrics ---------------------------------------------------------------
    def _write_metrics(self) -> None:
        try:
            self.metrics.write(self.config.metrics_file)
        except OSError as exc:
            log.error("metrics_write_failed", path=self.config.metrics_file, error=exc.strerror or str(exc))

    async def _write_metrics_forever(self) -> None:
        while True:
            self._write_metrics()
            await asyncio.sleep(self.config.metrics_interval)


async def serve(config: Config) -> int:
    relay = Relay(config)
    await relay.start()
    await relay.wait_stopped()
    return 0
