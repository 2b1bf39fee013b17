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
from typing import Any, Awaitable, Set

_RUNNING: Set["asyncio.Future[Any]"] = set()


def spawn(awaitable: Awaitable[Any]) -> "asyncio.Future[Any]":
    """Run ``awaitable`` in the background; the task is held until it ends."""
    task = asyncio.ensure_future(awaitable)
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)
    return task


def running() -> int:
    """How many spawned tasks have not ended yet."""
    return len(_RUNNING)
