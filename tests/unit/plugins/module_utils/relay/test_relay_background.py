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


def test_nothing_in_the_relay_starts_a_task_that_nobody_keeps():
    # ruff's RUF006 finds asyncio.ensure_future/create_task results that are dropped
    ruff = os.path.join(os.path.dirname(sys.executable), "ruff")
    proc = subprocess.run([ruff, "check", "--isolated", "--select", "RUF006", "--output-format", "concise",
                           os.path.join(REPO, "plugins")], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout
