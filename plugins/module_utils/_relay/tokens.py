# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The token keeper: one account's access token in memory, renewed through the core.

- The token is served from memory while it outlives ``min_validity``.
- Renewal runs ``TokenSession.ensure_valid`` in a thread (it does blocking
  HTTP and file I/O), single-flight per account: an asyncio lock here, and the
  core's file lock plus re-read across processes (module runs, ``refresh``).
- After a failure, callers get the failure at once for ``retry_backoff``
  seconds instead of each waiting out the provider's timeout again, unless the
  token file was renewed meanwhile (e.g. by the module after a new sign-in).
- A background task renews ahead of expiry and, for refresh tokens, at least
  every ``keepalive_interval`` so an idle account never reaches the
  provider's idle limit (90 days at Microsoft).
- ``close`` (shutdown) is final: no renewal starts after it, and whoever
  waits for one gets ``KeeperStopped`` at once, whatever the provider does.
"""

from __future__ import annotations

import asyncio
import time
from typing import Optional

from .._errors import OAuthMailError, StorageError, TEMPORARY
from .._notify import Notifier
from .._session import TokenSession
from .._settings import TokenSettings
from .._token_file import TokenFile
from .._token_record import TokenRecord
from . import log


def _consume(future) -> None:
    """Retrieve an abandoned job's outcome, so asyncio does not log it as never retrieved."""
    if not future.cancelled():
        future.exception()


class KeeperStopped(Exception):
    """The relay is shutting down: no token renewal starts any more (the client gets 421)."""


class TokenUnavailable(Exception):
    """No usable token now; ``category`` is the core's error category."""

    def __init__(self, account: str, category: str, message: str) -> None:
        super().__init__(message)
        self.account = account
        self.category = category
        self.message = message


def _create_provider(settings, credential):
    from .._providers import create_provider  # provider code only when renewing
    return create_provider(settings, credential)


def _log_notice(event: str, fields) -> None:
    (log.warning if event == "notice_failed" else log.info)(event, **fields)


def make_notifier(account, notify) -> Optional[Notifier]:
    """The account's notifier for the ``notify`` section (None without one); its results go to the log."""
    if notify is None:
        return None
    return Notifier(notify, account.token_file, account=account.name, username=account.username,
                    report=_log_notice)


def make_session(account, timeout: float, retries: int, notify=None) -> TokenSession:
    """A session that takes provider, client and scopes from the token file itself.

    During a key rotation it reads files sealed with a previous key of ``key_file`` and leaves them as they
    are until their next renewal, which writes the current key (``status`` lists the files still on an old key).
    """
    settings = TokenSettings(ca_path=account.provider_ca_file, timeout=timeout, retries=retries)
    token_file = TokenFile(account.token_file, account.key, previous_keys=account.previous_keys)
    return TokenSession(settings, token_file, provider_factory=_create_provider, rekey=False,
                        notifier=make_notifier(account, notify))


class TokenKeeper:
    def __init__(self, account, config, executor, metrics, clock=time.time) -> None:
        self.account = account
        self.name = account.name
        self.min_validity = account.min_validity
        self.keepalive_interval = config.keepalive_interval
        self.retry_backoff = config.token_retry_backoff
        self.executor = executor
        self.metrics = metrics
        self.clock = clock
        self.session = make_session(account, config.timeouts.token, config.token_retries, config.notify)
        self.record: Optional[TokenRecord] = None
        self.last_error: Optional[TokenUnavailable] = None
        self._failed_at = 0.0
        self._lock = asyncio.Lock()
        self._task: Optional[asyncio.Task] = None
        self._closed = False
        self._stopping: Optional[asyncio.Future] = None
        self.renewals = 0
        metrics.expiry[self.name] = self.seconds_left

    # -- reading -------------------------------------------------------------
    def seconds_left(self) -> Optional[float]:
        return self.record.seconds_left(self.clock()) if self.record else None

    @property
    def username(self) -> Optional[str]:
        if self.account.username:
            return self.account.username
        return self.record.meta.get("username") if self.record else None

    def _fresh(self, record: Optional[TokenRecord]) -> bool:
        return record is not None and record.is_valid_for(self.min_validity, self.clock())

    async def token(self) -> TokenRecord:
        """A record whose access token outlives min_validity, or TokenUnavailable."""
        record = self.record
        if self._fresh(record):
            return record
        async with self._lock:
            if self._fresh(self.record):
                return self.record
            self._check_open()
            return await self._renew(force=False)

    async def renew_after_refusal(self, refused: TokenRecord) -> TokenRecord:
        """Upstream refused ``refused``: force one renewal unless someone already replaced it."""
        async with self._lock:
            if self.record is not None and self.record.access_token != refused.access_token and \
                    self._fresh(self.record):
                return self.record
            self._check_open()
            return await self._renew(force=True, reason="upstream refused the token")

    def _check_open(self) -> None:
        # checked after taking the lock: a session that waited for a renewal abandoned at
        # shutdown must not start a new one (the provider would see a second request)
        if self._closed:
            raise KeeperStopped(self.name)

    async def _blocking(self, call):
        """``call()`` in a worker thread; KeeperStopped as soon as ``close`` is called meanwhile."""
        self._check_open()
        loop = asyncio.get_running_loop()
        if self._stopping is None:
            self._stopping = loop.create_future()
        job = loop.run_in_executor(self.executor, call)
        try:
            await asyncio.wait((job, self._stopping), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not job.done():
                # the thread goes on (it cannot be interrupted) and may still save a rotated
                # token; its outcome is simply not waited for
                job.add_done_callback(_consume)
        if not job.done():
            raise KeeperStopped(self.name)
        return job.result()

    async def _renew(self, force: bool, reason: Optional[str] = None, ahead: float = 0.0) -> TokenRecord:
        if self.last_error is not None and self.clock() - self._failed_at < self.retry_backoff:
            return await self._while_backing_off()
        started = time.monotonic()
        try:
            outcome = await self._blocking(lambda: self.session.ensure_valid(self.min_validity + ahead, force=force))
        except KeeperStopped:
            raise
        except OAuthMailError as error:
            self._failed(error)
            raise self.last_error
        except Exception as error:  # never let a bug in a provider kill the server
            self._failed(OAuthMailError("unexpected %s during token renewal" % type(error).__name__))
            raise self.last_error
        record = outcome.record
        if record is None or not record.access_token:
            self._failed(StorageError("the token file %s holds no access token" % self.session.token_file.path))
            raise self.last_error
        self.record, self.last_error = record, None
        if outcome.action != "none":
            self.renewals += 1
            self.metrics.inc("token_refreshes", self.name)
            log.info("token_renewed", account=self.name, action=outcome.action, reason=reason or outcome.reason,
                     expires_in=int(record.seconds_left(self.clock())),
                     duration_ms=int((time.monotonic() - started) * 1000))
        elif reason is None:
            log.debug("token_loaded", account=self.name, expires_in=int(record.seconds_left(self.clock())))
        return record

    async def _while_backing_off(self) -> TokenRecord:
        """Still backing off after a failure; but pick up a token renewed by someone else (module, CLI)."""
        try:
            record = await self._blocking(self.session.token_file.read)
        except OAuthMailError:
            record = None
        if self._fresh(record) and (self.record is None or record.access_token != self.record.access_token):
            self.record, self.last_error = record, None
            log.info("token_reloaded", account=self.name, expires_in=int(record.seconds_left(self.clock())))
            return record
        raise self.last_error

    def _failed(self, error: OAuthMailError) -> None:
        category = getattr(error, "category", "error")
        self.last_error = TokenUnavailable(self.name, category, str(error))
        self._failed_at = self.clock()
        self.metrics.inc("token_failures", self.name)
        log.error("token_failed", account=self.name, category=category, code=getattr(error, "code", None),
                  message=str(error))

    async def deliver_pending_notice(self) -> None:
        """Send a notice left pending (a failed send, or a change recorded by a process without notices)."""
        if self.session.notifier is None or self._closed:
            return
        try:
            problem = await self._blocking(self.session.deliver_pending_notice)
        except KeeperStopped:
            return
        if problem:
            log.warning("notice_pending", account=self.name, error=problem)

    # -- background renewal and keep-alive --------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._background())

    def close(self) -> None:
        """Shutdown: no renewal starts from now on; waiters for one get KeeperStopped now."""
        self._closed = True
        if self._stopping is not None and not self._stopping.done():
            self._stopping.set_result(None)
        if self._task is not None:
            self._task.cancel()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None

    def _next_due(self) -> float:
        """Seconds until the background task should act."""
        if self.record is None:
            return 0.0 if self.last_error is None else max(self.retry_backoff, 30.0)
        now = self.clock()
        due = self.record.seconds_left(now) - self.min_validity - 60  # renew a minute before callers would
        if self.record.refresh_token:
            last = float(self.record.meta.get("refresh_token_issued_at") or self.record.meta.get("updated_at") or 0)
            due = min(due, last + self.keepalive_interval - now)
        if self.last_error is not None:
            due = max(due, self.retry_backoff if self.last_error.category == TEMPORARY else 300.0)
        # a token whose whole lifetime is shorter than min_validity must not make this spin
        floor = 30.0 if now - float(self.record.meta.get("updated_at") or 0) < 60 else 1.0
        return max(floor, min(due, 3600.0))

    async def _background(self) -> None:
        while True:
            try:
                if self.record is None:
                    await self.token()
                else:
                    now = self.clock()
                    keepalive = False
                    if self.record.refresh_token:
                        last = float(self.record.meta.get("refresh_token_issued_at")
                                     or self.record.meta.get("updated_at") or 0)
                        keepalive = now - last >= self.keepalive_interval
                    if keepalive:
                        async with self._lock:
                            await self._renew(force=True, reason="keep-alive of an idle refresh token")
                    elif self.record.seconds_left(now) <= self.min_validity + 60:
                        async with self._lock:
                            if self.record.seconds_left(self.clock()) <= self.min_validity + 60:
                                # a minute ahead of callers, so no session waits for it
                                await self._renew(force=False, reason="renewal ahead of expiry", ahead=60)
            except asyncio.CancelledError:
                raise
            except KeeperStopped:
                return
            except TokenUnavailable:
                pass  # logged where it happened
            except Exception as error:  # keep the loop alive whatever happens
                log.error("token_background_error", account=self.name, error=type(error).__name__)
            await asyncio.sleep(self._next_due())
