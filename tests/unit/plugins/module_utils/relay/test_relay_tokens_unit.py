# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""TokenKeeper: single flight, backoff after failures, one renewal per refused token; status states."""
from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from ansible_collections.xoauth2.mail.plugins.module_utils._errors import ReauthRequired, TemporaryError
from ansible_collections.xoauth2.mail.plugins.module_utils._relay.metrics import Metrics
from ansible_collections.xoauth2.mail.plugins.module_utils._relay.status import account_status
from ansible_collections.xoauth2.mail.plugins.module_utils._relay.tokens import TokenKeeper, TokenUnavailable
from ansible_collections.xoauth2.mail.plugins.module_utils._session import Outcome
from ansible_collections.xoauth2.mail.plugins.module_utils._status_file import record_failure, record_success
from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile

from relay_unit_support import config
from token_samples import make_record


class FakeSession:
    """Stands in for TokenSession: counts calls, renews slowly, can fail."""

    def __init__(self, token_file, fail=None):
        self.token_file = token_file
        self.calls = []
        self.fail = fail
        self.counter = 0
        self.lock = threading.Lock()

    def ensure_valid(self, min_validity, force=False):
        with self.lock:
            self.calls.append(force)
            self.counter += 1
            number = self.counter
        time.sleep(0.05)  # slow enough that concurrent callers overlap
        if self.fail:
            raise self.fail
        record = make_record(now=time.time(), access_token="at-%d" % number)
        return Outcome(action="refreshed", reason="test", record=record)


@pytest.fixture
def keeper_for(tmp_path):
    executor = ThreadPoolExecutor(4)

    def build(fail=None, **top):
        cfg = config(tmp_path, top)
        keeper = TokenKeeper(cfg.accounts[0], cfg, executor, Metrics())
        keeper.session = FakeSession(TokenFile(cfg.accounts[0].token_file, cfg.accounts[0].key), fail)
        return keeper

    yield build
    executor.shutdown()


def run(coro_factory):
    return asyncio.run(coro_factory())


def test_fifty_concurrent_callers_one_renewal(keeper_for):
    async def scenario():
        keeper = keeper_for()
        records = await asyncio.gather(*(keeper.token() for dummy in range(50)))
        return keeper, records

    keeper, records = run(scenario)
    assert keeper.session.calls == [False]
    assert {r.access_token for r in records} == {"at-1"}
    assert keeper.metrics.counters["token_refreshes"]["alice"] == 1


def test_a_refused_token_is_renewed_once_for_all_sessions_that_saw_it(keeper_for):
    async def scenario():
        keeper = keeper_for()
        first = await keeper.token()
        renewed = await asyncio.gather(*(keeper.renew_after_refusal(first) for dummy in range(10)))
        return keeper, renewed

    keeper, renewed = run(scenario)
    assert keeper.session.calls == [False, True]
    assert {r.access_token for r in renewed} == {"at-2"}


def test_failures_back_off_and_keep_their_category(keeper_for):
    async def scenario():
        keeper = keeper_for(fail=ReauthRequired("grant revoked", code="invalid_grant"), token_retry_backoff=60)
        errors = []
        for dummy in range(3):
            with pytest.raises(TokenUnavailable) as error:
                await keeper.token()
            errors.append(error.value)
        return keeper, errors

    keeper, errors = run(scenario)
    assert keeper.session.calls == [False]  # the next two answered from the backoff
    assert {e.category for e in errors} == {"reauth_required"}


def test_no_backoff_retries_each_time(keeper_for):
    async def scenario():
        keeper = keeper_for(fail=TemporaryError("idp down"), token_retry_backoff=0)
        for dummy in range(2):
            with pytest.raises(TokenUnavailable):
                await keeper.token()
        return keeper

    assert run(scenario).session.calls == [False, False]


def _status(tmp_path, record=None, failure=None, success=False):
    cfg = config(tmp_path)
    account = cfg.accounts[0]
    token_file = TokenFile(account.token_file, account.key)
    if record is not None:
        token_file.replace(record)
    if success:
        record_success(token_file.status_path, 0o600, None, None, "refreshed")
    if failure is not None:
        record_failure(token_file.status_path, 0o600, None, None, failure)
    return account_status(account)


def test_status_states(tmp_path):
    now = time.time()
    info, code = _status(tmp_path)
    assert (info["state"], code) == ("error", 2)
    info, code = _status(tmp_path, make_record(now=now), success=True)
    assert (info["state"], code) == ("valid", 0) and info["expires_in"] > 3000 and info["last_refresh"]
    info, code = _status(tmp_path, failure=TemporaryError("idp down"))
    assert (info["state"], code) == ("error", 1)  # the current token still works
    info, code = _status(tmp_path, make_record(now=now - 7200), failure=TemporaryError("idp down"))
    assert (info["state"], code) == ("error", 2)
    info, code = _status(tmp_path, failure=ReauthRequired("revoked", code="invalid_grant"))
    assert (info["state"], code) == ("needs_reauth", 2)
    assert info["last_error"]["error_category"] == "reauth_required"
    info, code = _status(tmp_path, make_record(now=now - 3300), success=True)
    assert (info["state"], code) == ("expiring", 0)  # renewable: renewed on next use
    old = make_record(now=now)
    old.meta["refresh_token_issued_at"] = int(now - 85 * 86400)
    info, code = _status(tmp_path, old, success=True)
    assert (info["state"], code) == ("expiring", 1)
    json.dumps(info)


def test_keepalive_renews_an_idle_refresh_token(keeper_for):
    async def scenario():
        keeper = keeper_for()
        record = make_record(now=time.time())
        record.meta["refresh_token_issued_at"] = int(time.time() - 2 * 86400)  # older than keepalive_interval
        keeper.record = record
        keeper.start()
        for dummy in range(200):
            if keeper.session.calls:
                break
            await asyncio.sleep(0.01)
        await keeper.stop()
        return keeper

    keeper = run(scenario)
    assert keeper.session.calls == [True]  # forced: a keep-alive, though the access token was still valid
    assert keeper.record.access_token == "at-1"


def test_background_renews_ahead_of_expiry_but_never_spins(keeper_for):
    async def scenario():
        keeper = keeper_for()
        keeper.record = make_record(now=time.time() - 3600 + 620)  # 620 s left: inside min_validity + 60
        keeper.start()
        for dummy in range(200):
            if keeper.session.calls:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        await keeper.stop()
        return keeper

    keeper = run(scenario)
    assert keeper.session.calls == [False]
    assert keeper._next_due() >= 30  # the renewed token is fresh: next check far away
