# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Processes of the test stack: PIDs, liveness, ports, log tails, and stopping a process group."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time

from stack_config import HOST


def pid_alive(pid: int) -> bool:
    """True if pid runs and is not a zombie (a zombie child of ours is reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
        if state in ("Z", "X"):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            return False
    except (OSError, IndexError):
        return False
    return True


def group_members(pgid: int) -> list:
    """Live (non-zombie) PIDs in a process group."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            out.append(int(name))
    return out


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def read_pid(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as fh:
            return int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def port_open(port: int, host: str = HOST, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: str, lines: int = 25) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return "".join(fh.readlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_until(check, timeout: float, interval: float = 0.05):
    """``check()``'s first true value within ``timeout`` seconds, else its value at the end."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    return check()


def _gone_within(pid: int, seconds: float) -> bool:
    """Poll every 50 ms until pid has ended; False if it still runs after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


def _kill_group_stragglers(pgid: int) -> None:
    """Children left in the group get a moment to end, then KILL."""
    for _attempt in range(20):
        if not group_members(pgid):
            break
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def kill(pid: int, match: str | None, timeout: float = 5.0) -> bool:
    """TERM the process group of pid (or pid), then KILL. Returns True if it was running."""
    if not pid_alive(pid):
        return False
    if match and match not in cmdline(pid):
        return False  # pid reused by something else
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return False
    group = pgid == pid  # we started it in its own session/group
    # TERM the leader alone first: Dovecot's and Postfix's masters stop their
    # children themselves (quieter logs); KILL the whole group only if needed.
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not _gone_within(pid, timeout):
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(pgid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
        _gone_within(pid, 5.0)
    if group:
        _kill_group_stragglers(pgid)
    return True
