# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Background work of the relay (a QUIT to a pooled connection, a reload, a stop) is held until it ends."""
from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys

import pytest

from ansible_collections.xoauth2.mail.plugins.module_utils._relay import background

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), *[".."] * 5))


def test_a_spawned_task_survives_garbage_collection_and_is_let_go_when_done():
    done = []

    async def work(gate):
        await gate.wait()
        done.append(True)

    async def main():
        gate = asyncio.Event()
        background.spawn(work(gate))  # the caller keeps no reference
        gc.collect()
        assert background.running() == 1
        gate.set()
        for dummy in range(10):
            await asyncio.sleep(0)
        assert background.running() == 0

    asyncio.run(main())
    assert done == [True]


@pytest.mark.parametrize("eager", [True, False])
def test_an_eager_task_runs_its_first_step_at_once_and_is_held_until_it_ends(eager):
    steps = []

    async def work(gate):
        steps.append("first")
        await gate.wait()
        steps.append("last")

    async def ends_at_once():
        steps.append("only")

    async def main():
        gate = asyncio.Event()
        task = background.spawn(work(gate), eager=eager)
        # Python 3.12+ runs the first step inside spawn; before, on the loop's next round (as eager=False)
        assert steps == (["first"] if eager and sys.version_info >= (3, 12) else [])
        del task
        gc.collect()
        assert background.running() == 1
        gate.set()
        background.spawn(ends_at_once(), eager=eager)
        for dummy in range(10):
            await asyncio.sleep(0)
        assert background.running() == 0

    asyncio.run(main())
    # an eager task that ends in its first step ends before the one resumed by the gate
    assert steps == (["first", "only", "last"] if eager and sys.version_info >= (3, 12) else ["first", "last", "only"])


def test_nothing_in_the_relay_starts_a_task_that_nobody_keeps():
    # ruff's RUF006 finds asyncio.ensure_future/create_task results that are dropped
    ruff = os.path.join(os.path.dirname(sys.executable), "ruff")
    proc = subprocess.run([ruff, "check", "--isolated", "--select", "RUF006", "--output-format", "concise",
                           os.path.join(REPO, "plugins")], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout
