# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared use of one stack by several pytest sessions (or xdist workers): a lock and leases.

Each session holds a lease (a file named by its PID in ``run/leases``);
``run/started-by-lease`` lists what lease holders started, so the last holder
to leave stops only that, never a stack somebody started by hand.
"""

from __future__ import annotations

import contextlib
import fcntl
import os

from processes import pid_alive


class RuntimeLock:
    """Inter-process lock on the runtime dir (``stack.lock``), re-entrant within this object."""

    def __init__(self, runtime_dir: str):
        self.dir = runtime_dir
        self._depth = 0

    @contextlib.contextmanager
    def held(self):
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "stack.lock"), "w", encoding="ascii") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            self._depth = 1
            try:
                yield
            finally:
                self._depth = 0
                fcntl.flock(fh, fcntl.LOCK_UN)


class Leases:
    """The lease files and the record of what lease holders started (call under the RuntimeLock)."""

    def __init__(self, run_dir: str):
        self.lease_dir = os.path.join(run_dir, "leases")
        self.marker = os.path.join(run_dir, "started-by-lease")

    def add(self, owner: int, started: list) -> None:
        """Record owner's lease and add ``started`` to what lease holders started."""
        os.makedirs(self.lease_dir, exist_ok=True)
        with open(os.path.join(self.lease_dir, str(owner)), "w", encoding="ascii") as fh:
            fh.write("lease\n")
        have = set()
        if os.path.exists(self.marker):
            with open(self.marker, encoding="ascii") as fh:
                have = set(fh.read().split())
        have.update(started)
        with open(self.marker, "w", encoding="ascii") as fh:
            fh.write("\n".join(sorted(have)) + "\n")

    def drop(self, owner: int) -> bool:
        """Remove owner's lease and those of dead processes; True if another live lease remains."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.lease_dir, str(owner)))
        others = []
        if os.path.isdir(self.lease_dir):
            for name in os.listdir(self.lease_dir):
                if name.isdigit() and pid_alive(int(name)):
                    others.append(name)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(os.path.join(self.lease_dir, name))
        return bool(others)

    def take_started(self) -> list | None:
        """What lease holders started, forgetting it; None when they started nothing."""
        if not os.path.exists(self.marker):
            return None
        with open(self.marker, encoding="ascii") as fh:
            services = fh.read().split()
        os.unlink(self.marker)
        return services
