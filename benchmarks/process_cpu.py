# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""CPU time of processes from /proc, for the benchmarks that split a message's cost between the parties."""
from __future__ import annotations

import os
import time

TICK = os.sysconf("SC_CLK_TCK")
UPSTREAM_QUEUES = ("maildrop", "incoming", "active", "deferred")


def cpu_seconds(pid, fields=(11, 12, 13, 14)):
    """CPU of a process in seconds: user + system (and of its waited-for children) by default."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            values = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(values[i]) for i in fields) / float(TICK)


def stack_pids(stack):
    """This stack's service processes and all their descendants (Postfix's smtpd, Dovecot's auth...)."""
    parents = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open("/proc/%s/stat" % pid) as handle:
                    parents[int(pid)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    found = {pid for pid in (stack.pid(name) for name in ("idp", "dovecot", "postfix")) if pid}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in found and pid not in found:
                found.add(pid)
                grew = True
    return sorted(found)


def stack_cpu(stack):
    """CPU seconds used so far by the test stack's processes (exited children count through their parents)."""
    return sum(cpu_seconds(pid) for pid in stack_pids(stack))


def upstream_queue_empty(stack):
    """No message waits in the upstream Postfix's queue: everything accepted has been delivered."""
    for name in UPSTREAM_QUEUES:
        for dummy_root, dummy_dirs, files in os.walk(os.path.join(stack.postfix_dir, "queue", name)):
            if files:
                return False
    return True


def wait_for_delivery(stack, timeout=60.0):
    """Wait until the upstream has delivered what it accepted; the seconds waited."""
    started = time.monotonic()
    while not upstream_queue_empty(stack) and time.monotonic() < started + timeout:
        time.sleep(0.01)
    return time.monotonic() - started
