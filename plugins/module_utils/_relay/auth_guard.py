# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Throttling of local AUTH failures: a growing delay, then a temporary lockout.

Failures are counted per presented username (known or not, so the answer
never tells the two apart) and overall, over a sliding ``window``. Every
failure is answered after the same delay for a given count, which grows
with the user's (or everyone's) failures; at ``lockout_after`` failures of
one user, or ``global_lockout_after`` failures of all, AUTH is answered
``454 4.7.0`` without checking anything for ``lockout_time`` seconds.
The ``auth_failed`` log lines are rate-limited the same way.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Deque, Optional

# how many usernames are tracked at once (spraying made-up names must not grow memory)
MAX_TRACKED = 4096
# a presented username is tracked and logged by at most this many characters
MAX_NAME = 256
# log lines per interval: per username, and for all usernames together
LOG_BURST_PER_USER = 3
LOG_BURST_TOTAL = 20
# the overall failure count doubles the delay this many times before the overall lockout
GLOBAL_STEPS = 4


@dataclass
class AuthSettings:
    failure_delay: float = 1.0
    max_delay: float = 16.0
    lockout_after: int = 10
    global_lockout_after: int = 100
    window: float = 600.0
    lockout_time: float = 300.0
    log_interval: float = 60.0
    hash_workers: int = 2
    max_unauthenticated: int = 50


class _Record:
    __slots__ = ("failures", "locked_until", "log_started", "log_count")

    def __init__(self, keep: int) -> None:
        self.failures: Deque[float] = deque(maxlen=keep)
        self.locked_until = 0.0
        self.log_started = -1e18
        self.log_count = 0


def _recent(failures: Deque[float], since: float) -> int:
    return sum(1 for moment in failures if moment > since)


class AuthGuard:
    def __init__(self, settings: AuthSettings, clock=time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self._users: "OrderedDict[str, _Record]" = OrderedDict()
        self._all = _Record(settings.global_lockout_after)
        self._log_suppressed = 0

    def configure(self, settings: AuthSettings) -> None:
        """New limits (reload); counts already made are kept."""
        self.settings = settings
        self._all.failures = deque(self._all.failures, maxlen=settings.global_lockout_after)
        for record in self._users.values():
            record.failures = deque(record.failures, maxlen=settings.lockout_after)

    def _record(self, username: str) -> _Record:
        key = username[:MAX_NAME]
        record = self._users.get(key)
        if record is None:
            record = self._users[key] = _Record(self.settings.lockout_after)
            if len(self._users) > MAX_TRACKED:
                self._users.popitem(last=False)
        else:
            self._users.move_to_end(key)
        return record

    # -- decisions -------------------------------------------------------------
    def locked(self, username: str) -> Optional[str]:
        """'user' or 'global' while a lockout applies to this username, else None."""
        now = self.clock()
        if now < self._all.locked_until:
            return "global"
        record = self._users.get(username[:MAX_NAME])
        if record is not None and now < record.locked_until:
            return "user"
        return None

    def failed(self, username: str) -> float:
        """Count a failure; the delay (seconds from the attempt) after which to answer it."""
        settings, now = self.settings, self.clock()
        record = self._record(username)
        record.failures.append(now)
        self._all.failures.append(now)
        since = now - settings.window
        mine, everyone = _recent(record.failures, since), _recent(self._all.failures, since)
        if mine >= settings.lockout_after:
            record.locked_until = now + settings.lockout_time
        if everyone >= settings.global_lockout_after:
            self._all.locked_until = now + settings.lockout_time
        steps = max(mine - 1, everyone * GLOBAL_STEPS // settings.global_lockout_after)
        return min(settings.max_delay, settings.failure_delay * (2 ** min(steps, 32)))

    def succeeded(self, username: str) -> None:
        """A good login forgets that user's failures (not everyone's)."""
        self._users.pop(username[:MAX_NAME], None)

    def failures(self, username: str) -> int:
        record = self._users.get(username[:MAX_NAME])
        return _recent(record.failures, self.clock() - self.settings.window) if record else 0

    # -- log rate limit --------------------------------------------------------
    def log_allowed(self, username: str) -> Optional[int]:
        """None if this failure's log line is to be dropped; else how many were dropped before it."""
        now, interval = self.clock(), self.settings.log_interval
        record, overall = self._record(username), self._all
        for item in (record, overall):
            if now - item.log_started >= interval:
                item.log_started, item.log_count = now, 0
        if record.log_count >= LOG_BURST_PER_USER or overall.log_count >= LOG_BURST_TOTAL:
            self._log_suppressed += 1
            return None
        record.log_count += 1
        overall.log_count += 1
        dropped, self._log_suppressed = self._log_suppressed, 0
        return dropped
