# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Retries of temporary failures: exponential backoff with jitter, Retry-After, one deadline.

``timeout`` bounds the whole exchange, retries included: every attempt gets
what is left of it as its own network timeout, so a hung server ends the
operation within ``timeout`` seconds.
"""

from __future__ import annotations

import random
import time
from typing import Callable, Optional, TypeVar

from ._errors import TemporaryError

T = TypeVar("T")

BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0


def backoff_delay(attempt: int, rand: Callable[[], float] = random.random) -> float:
    """Full-jitter exponential backoff: uniform in [base*2^n / 2, base*2^n], capped."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** attempt))
    return ceiling / 2 + rand() * ceiling / 2


def with_retries(
    attempt: Callable[[float], T],
    retries: int,
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rand: Callable[[], float] = random.random,
) -> T:
    """Call ``attempt(seconds_left)`` until it succeeds, a non-temporary error, or the budget ends."""
    deadline = clock() + timeout
    tries = 0
    while True:
        left = deadline - clock()
        try:
            return attempt(max(left, 0.001))
        except TemporaryError as error:
            tries += 1
            delay: Optional[float] = error.retry_after
            if delay is None:
                delay = backoff_delay(tries - 1, rand)
            left = deadline - clock()
            if tries > retries:
                error.message = "%s Gave up after %d attempt(s)." % (error.message, tries)
                raise
            if delay >= left:
                error.message = "%s Gave up after %d attempt(s): the next try (in %.0f s) would pass timeout." % (
                    error.message, tries, delay)
                raise
            sleep(delay)
