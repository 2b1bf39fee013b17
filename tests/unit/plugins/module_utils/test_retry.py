# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.xoauth2.mail.plugins.module_utils._errors import ConfigurationError, TemporaryError
from ansible_collections.xoauth2.mail.plugins.module_utils._retry import backoff_delay, with_retries


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def failing(times, error_factory, clock=None, cost=0.0):
    calls = []

    def attempt(seconds_left):
        calls.append(seconds_left)
        if clock is not None:
            clock.now += cost
        if len(calls) <= times:
            raise error_factory()
        return "ok"
    return attempt, calls


def test_succeeds_after_temporary_failures():
    fake = FakeClock()
    attempt, calls = failing(2, lambda: TemporaryError("down"))
    assert with_retries(attempt, 3, 60, fake.sleep, fake.clock, rand=lambda: 0.0) == "ok"
    assert len(calls) == 3
    assert fake.sleeps == [0.5, 1.0]  # full jitter lower bound: 1/2, 2/2


def test_retry_after_is_honoured_exactly():
    fake = FakeClock()
    attempt, calls = failing(1, lambda: TemporaryError("429", retry_after=7))
    with_retries(attempt, 3, 60, fake.sleep, fake.clock)
    assert fake.sleeps == [7]


def test_gives_up_after_retries():
    fake = FakeClock()
    attempt, calls = failing(10, lambda: TemporaryError("down"))
    with pytest.raises(TemporaryError) as caught:
        with_retries(attempt, 2, 600, fake.sleep, fake.clock)
    assert len(calls) == 3 and "after 3 attempt" in str(caught.value)


def test_never_sleeps_past_the_deadline():
    fake = FakeClock()
    attempt, calls = failing(10, lambda: TemporaryError("429", retry_after=50))
    with pytest.raises(TemporaryError) as caught:
        with_retries(attempt, 5, 30, fake.sleep, fake.clock)
    assert fake.sleeps == [] and len(calls) == 1
    assert "would pass timeout" in str(caught.value)


def test_each_attempt_gets_the_time_left():
    fake = FakeClock()
    attempt, calls = failing(1, lambda: TemporaryError("slow"), clock=fake, cost=4.0)
    with_retries(attempt, 3, 10, fake.sleep, fake.clock, rand=lambda: 0.0)
    assert calls[0] == 10 and calls[1] == pytest.approx(10 - 4 - 0.5)


def test_configuration_errors_are_not_retried():
    fake = FakeClock()
    attempt, calls = failing(5, lambda: ConfigurationError("bad"))
    with pytest.raises(ConfigurationError):
        with_retries(attempt, 3, 60, fake.sleep, fake.clock)
    assert len(calls) == 1


def test_backoff_grows_and_is_capped():
    assert backoff_delay(0, lambda: 1.0) == 1.0
    assert backoff_delay(3, lambda: 1.0) == 8.0
    assert backoff_delay(20, lambda: 1.0) == 30.0
