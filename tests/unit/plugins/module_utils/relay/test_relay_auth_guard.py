# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""AuthGuard (growing delay, lockouts, log rate limit), its configuration keys, the daemon worker pool."""
from __future__ import annotations

import threading

import pytest

from ansible_collections.xoauth2.mail.plugins.module_utils._relay import auth_guard
from ansible_collections.xoauth2.mail.plugins.module_utils._relay.auth_guard import AuthGuard, AuthSettings
from ansible_collections.xoauth2.mail.plugins.module_utils._relay.config import ConfigError
from ansible_collections.xoauth2.mail.plugins.module_utils._relay.worker import DaemonExecutor

from relay_unit_support import config


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def guard(**settings):
    clock = Clock()
    return AuthGuard(AuthSettings(**settings), clock=clock), clock


def test_delay_grows_with_a_users_failures_up_to_the_cap():
    g, dummy = guard(failure_delay=1, max_delay=8, lockout_after=100)
    assert [g.failed("alice") for dummy in range(6)] == [1, 2, 4, 8, 8, 8]


def test_known_and_unknown_usernames_get_the_same_delays():
    g, dummy = guard(lockout_after=100)
    assert [g.failed("alice") for dummy in range(4)] == [g.failed("no-such-user") for dummy in range(4)]


def test_a_user_is_locked_out_then_let_in_again():
    g, clock = guard(lockout_after=3, lockout_time=300, window=600)
    for dummy in range(2):
        g.failed("alice")
    assert g.locked("alice") is None
    g.failed("alice")
    assert g.locked("alice") == "user"
    assert g.locked("bob") is None  # one user's lockout is not everyone's
    clock.now += 301
    assert g.locked("alice") is None
    # still three failures within the window: the next one locks again at once
    g.failed("alice")
    assert g.locked("alice") == "user"


def test_failures_outside_the_window_are_forgotten():
    g, clock = guard(lockout_after=3, window=60)
    g.failed("alice")
    g.failed("alice")
    clock.now += 61
    g.failed("alice")
    assert g.locked("alice") is None and g.failures("alice") == 1


def test_a_good_login_forgets_that_users_failures():
    g, dummy = guard(lockout_after=3)
    g.failed("alice")
    g.failed("alice")
    g.succeeded("alice")
    g.failed("alice")
    assert g.locked("alice") is None and g.failures("alice") == 1


def test_spraying_usernames_locks_everyone_out_and_slows_down_on_the_way():
    g, clock = guard(failure_delay=1, max_delay=16, lockout_after=10, global_lockout_after=8, lockout_time=60)
    delays = [g.failed("user%d" % n) for n in range(7)]
    assert delays[0] == 1 and delays[-1] > 1  # every name is new, yet the delay grows
    assert g.locked("alice") is None
    g.failed("user7")
    assert g.locked("alice") == "global"
    clock.now += 61
    assert g.locked("alice") is None


def test_tracked_usernames_are_bounded(monkeypatch):
    monkeypatch.setattr(auth_guard, "MAX_TRACKED", 5)
    g, dummy = guard(global_lockout_after=1000)
    for n in range(50):
        g.failed(str(n) + "x" * 1000)
    assert len(g._users) == 5
    assert all(len(key) <= auth_guard.MAX_NAME for key in g._users)


def test_log_lines_are_rate_limited_per_user_and_overall():
    g, clock = guard(log_interval=60, lockout_after=1000, global_lockout_after=1000)
    allowed = [g.log_allowed("alice") for dummy in range(10)]
    assert allowed[:auth_guard.LOG_BURST_PER_USER] == [0] * auth_guard.LOG_BURST_PER_USER
    assert allowed[auth_guard.LOG_BURST_PER_USER:] == [None] * (10 - auth_guard.LOG_BURST_PER_USER)
    # another user still gets lines, and the first one tells how many were dropped
    assert g.log_allowed("bob") == 10 - auth_guard.LOG_BURST_PER_USER
    results = [g.log_allowed("user%d" % n) for n in range(100)]
    assert sum(1 for r in results if r is not None) == auth_guard.LOG_BURST_TOTAL - 1 - auth_guard.LOG_BURST_PER_USER
    clock.now += 61
    assert g.log_allowed("alice") == 100 - (auth_guard.LOG_BURST_TOTAL - 1 - auth_guard.LOG_BURST_PER_USER)


# -- configuration ---------------------------------------------------------------
def test_auth_and_deadline_defaults(tmp_path):
    cfg = config(tmp_path)
    assert cfg.auth == AuthSettings()
    assert cfg.auth.failure_delay >= 1 and cfg.auth.lockout_after <= 10
    assert cfg.timeouts.auth <= 30 and cfg.timeouts.session == 3600


@pytest.mark.parametrize("top, key", [
    ({"auth": {"lockout_after": 0}}, "auth.lockout_after"),
    ({"auth": {"lockout_after": 2.5}}, "auth.lockout_after"),
    ({"auth": {"failure_delay": "1"}}, "auth.failure_delay"),
    ({"auth": {"hash_workers": 100}}, "auth.hash_workers"),
    ({"auth": {"failure_delay": 5, "max_delay": 1}}, "auth.max_delay"),
    ({"auth": {"bogus": 1}}, "auth.bogus"),
    ({"auth": []}, "auth"),
    ({"timeouts": {"auth": 0}}, "timeouts.auth"),
    ({"timeouts": {"session": "long"}}, "timeouts.session"),
])
def test_bad_auth_settings_name_the_key(tmp_path, top, key):
    with pytest.raises(ConfigError) as error:
        config(tmp_path, top)
    assert error.value.key == key


def test_allow_non_loopback_without_a_certificate_is_refused(tmp_path):
    # nobody could ever log in: clients on other hosts must STARTTLS before AUTH
    with pytest.raises(ConfigError) as error:
        config(tmp_path, {"listen": "192.0.2.1:2525", "allow_non_loopback": True})
    assert error.value.key == "allow_non_loopback"
    assert "tls_cert_file" in str(error.value)


# -- the worker pool ---------------------------------------------------------------
def test_daemon_executor_is_bounded_and_never_holds_the_interpreter():
    executor = DaemonExecutor(2, "t")
    release = threading.Event()
    running = []
    lock = threading.Lock()

    def job(n):
        with lock:
            running.append(n)
        release.wait(10)
        return n

    futures = [executor.submit(job, n) for n in range(5)]
    assert executor.busy == 5
    threads = [t for t in threading.enumerate() if t.name.startswith("t-")]
    assert len(threads) == 2 and all(t.daemon for t in threads)
    release.set()
    assert [f.result(10) for f in futures] == list(range(5))
    assert executor.wait_idle(10) and executor.busy == 0
    executor.shutdown(wait=True)
    with pytest.raises(RuntimeError):
        executor.submit(job, 9)


def test_daemon_executor_passes_exceptions_and_cancels_queued_work_on_request():
    executor = DaemonExecutor(1, "u")
    gate = threading.Event()
    first = executor.submit(gate.wait, 10)
    queued = executor.submit(lambda: 1)
    other = DaemonExecutor(1, "v")
    failing = other.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        failing.result(10)
    other.shutdown(wait=True)
    executor.shutdown(wait=False, cancel_futures=True)
    assert queued.cancelled()
    gate.set()
    assert first.result(10) is True
