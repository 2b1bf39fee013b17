# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pool's slots: a free one is taken at once, a full pool waits at most timeouts.command."""
from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import pytest

from ansible_collections.xoauth2.mail.plugins.module_utils._relay.pool import UpstreamPool
from ansible_collections.xoauth2.mail.plugins.module_utils._relay.upstream import UpstreamError


class IdleConnection:
    """A pooled connection that is alive and whose token is good for an hour (no socket needed)."""

    broken = False

    def __init__(self):
        self.last_used = time.monotonic()
        self.token_expires_at = time.time() + 3600


def make_pool(size, command_timeout):
    account = SimpleNamespace(name="alice", upstream=SimpleNamespace(ca_file=None))
    config = SimpleNamespace(pool_size=size, pool_idle_timeout=60, hostname="relay.test",
                             timeouts=SimpleNamespace(command=command_timeout, connect=5))
    keeper = SimpleNamespace(min_validity=60)
    pool = UpstreamPool(account, config, keeper, metrics=None)
    pool._idle = [IdleConnection() for dummy in range(size)]
    return pool


def test_a_free_slot_is_taken_at_once_and_a_full_pool_waits_for_a_release():
    async def main():
        pool = make_pool(2, command_timeout=30)
        first, reused = await pool.acquire()
        second, dummy = await pool.acquire()
        assert reused and first is not second
        third = asyncio.ensure_future(pool.acquire())
        await asyncio.sleep(0.05)
        assert not third.done()  # both slots held
        pool.release(first, reusable=True)
        conn, reused = await asyncio.wait_for(third, 5)
        assert conn is first and reused

    asyncio.run(main())


def test_a_full_pool_refuses_after_the_command_timeout_and_gives_no_slot_away():
    async def main():
        pool = make_pool(1, command_timeout=0.2)
        conn, dummy = await pool.acquire()
        with pytest.raises(UpstreamError, match="all 1 upstream connections of alice are busy"):
            await asyncio.wait_for(pool.acquire(), 10)
        pool.release(conn, reusable=True)
        again, reused = await asyncio.wait_for(pool.acquire(), 5)  # the timed-out wait took no slot
        assert again is conn and reused
        assert pool._slots.locked()

    asyncio.run(main())
