# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fire-and-forget coroutines that are not forgotten by the garbage collector.

The event loop holds only weak references to tasks: a task nobody keeps may be collected before it
ends (a QUIT never sent, a reload never done). ``spawn`` keeps each one until it is done.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any, Awaitable, Set

_RUNNING: Set["asyncio.Future[Any]"] = set()


# Python 3.12+ can run a new task's first step at once instead of on the loop's next round
_EAGER = sys.version_info >= (3, 12)


def spawn(awaitable: Awaitable[Any], eager: bool = False) -> "asyncio.Future[Any]":
    """Run ``awaitable`` in the background; the task is held until it ends.

    ``eager``: a coroutine runs up to its first wait now, in the caller (where supported)."""
    if eager and _EAGER and asyncio.iscoroutine(awaitable):
        task: "asyncio.Future[Any]" = asyncio.Task(awaitable, loop=asyncio.get_running_loop(), eager_start=True)
    else:
        task = asyncio.ensure_future(awaitable)
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)
    return task


def running() -> int:
    """How many spawned tasks have not ended yet."""
    return len(_RUNNING)
