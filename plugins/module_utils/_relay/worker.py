# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A bounded executor of daemon threads, for blocking work the event loop must not do.

The standard ThreadPoolExecutor's threads are joined when the interpreter
exits, so one token renewal hanging at the identity provider held the
process for the renewal's whole timeout after SIGTERM. These threads are
daemons: the relay decides how long shutdown waits for them (``wait_idle``),
and the interpreter does not wait any longer.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Executor, Future
from typing import List

_STOP = object()


class DaemonExecutor(Executor):
    """At most ``workers`` daemon threads (started on demand) running submitted calls in order."""

    def __init__(self, workers: int, name: str = "xoauth2-worker") -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self.name = name
        self._queue: "queue.SimpleQueue" = queue.SimpleQueue()
        self._threads: List[threading.Thread] = []
        self._lock = threading.Lock()
        self._busy = 0
        self._idle_threads = 0
        self._shutdown = False

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot submit after shutdown")
            self._busy += 1
            self._queue.put((future, fn, args, kwargs))
            if self._idle_threads == 0 and len(self._threads) < self.workers:
                thread = threading.Thread(target=self._work, name="%s-%d" % (self.name, len(self._threads)),
                                          daemon=True)
                self._threads.append(thread)
                thread.start()
            else:
                self._idle_threads = max(0, self._idle_threads - 1)
        return future

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            future, fn, args, kwargs = item
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        result = fn(*args, **kwargs)
                    except BaseException as exc:  # handed to the waiter, as ThreadPoolExecutor does
                        future.set_exception(exc)
                    else:
                        future.set_result(result)
            finally:
                with self._lock:
                    self._busy -= 1
                    self._idle_threads += 1

    @property
    def busy(self) -> int:
        """Calls submitted and not finished yet (queued or running)."""
        return self._busy

    def wait_idle(self, timeout: float) -> bool:
        """Block until no call is pending or ``timeout`` seconds passed; True if idle."""
        deadline = time.monotonic() + timeout
        while self._busy and time.monotonic() < deadline:
            time.sleep(0.02)
        return not self._busy

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:  # pylint: disable=arguments-differ
        """Refuse new work; queued calls still run unless ``cancel_futures``; never waits for a hung call."""
        with self._lock:
            self._shutdown = True
            if cancel_futures:
                self._cancel_queued()
            for dummy in self._threads:
                self._queue.put(_STOP)
        if wait:
            for thread in self._threads:
                thread.join()

    def _cancel_queued(self) -> None:
        kept = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP and item[0].cancel():
                self._busy -= 1
            elif item is not _STOP:
                kept.append(item)
        for item in kept:
            self._queue.put(item)
