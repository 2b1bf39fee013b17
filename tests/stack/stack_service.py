# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One service of the test stack as a process tracked by a PID file: the steps every service shares.

A service names its binary check (``find_binary``), its ports, how it is
launched (``launch``) and how to tell it answers (``ok``); ``start`` and
``stop`` are the same for all: a no-op for a running service, refuse ports
something else holds, wait until it answers, stop it again if it does not.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import socket
import subprocess
import time

from processes import kill, pid_alive, port_open, read_pid, tail
from stack_config import HOST, StackError
from stack_layout import StackLayout


class StackService:
    """Base of the IdP, Dovecot and the upstream Postfix."""

    #: the name of its PID and log files, and in ``status``
    name = ""
    #: a word of its command line, so a reused PID is never killed
    match = ""
    #: the Debian package's program (in /usr/sbin), or None when ``launch`` finds what it runs
    program: str | None = None

    def __init__(self, layout: StackLayout):
        self.layout = layout

    # -- what a service says about itself -------------------------------
    def find_binary(self) -> str | None:
        """The program to run, or None when ``launch`` finds it itself; raises StackError if not installed."""
        if self.program is None:
            return None
        binary = shutil.which(self.program) or f"/usr/sbin/{self.program}"
        if not os.path.exists(binary):
            raise StackError(f"{self.program} not installed: run tests/stack/install.sh")
        return binary

    def ports(self) -> tuple:
        return ()

    def ok(self) -> bool:
        raise NotImplementedError

    def launch(self, binary: str | None, timeout: float):
        """Start the process and write its PID file; returns the Popen to watch, or None."""
        raise NotImplementedError

    def fallback_pid(self) -> int | None:
        """Where to find the PID when the PID file is gone (Postfix keeps its own)."""
        return None

    # -- shared steps ------------------------------------------------------
    @property
    def pidfile(self) -> str:
        return self.layout.pidfile(self.name)

    @property
    def logfile(self) -> str:
        return self.layout.logfile(self.name)

    def pid(self) -> int | None:
        """PID of the running service, or None."""
        pid = read_pid(self.pidfile)
        if pid and pid_alive(pid):
            return pid
        return None

    def start(self, timeout: float) -> bool:
        """Start unless running; wait until it answers. True if this call started it."""
        if self.pid():
            self.wait(timeout)
            return False
        binary = self.find_binary()
        for port in self.ports():
            if port_open(port):
                raise StackError(f"port {port} is in use by a process this stack did not start")
        proc = self.launch(binary, timeout)
        try:
            self.wait(timeout, proc)
        except StackError:
            self.stop()
            raise
        return True

    def stop(self) -> bool:
        """Stop by PID (TERM, then KILL to its group); idempotent. True if it was running."""
        pid = read_pid(self.pidfile) or self.fallback_pid()
        done = bool(pid) and kill(pid, self.match)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.pidfile)
        return done

    def greets(self, port: int, banner: bytes) -> bool:
        """True if the server on ``port`` sends a greeting that starts with ``banner``."""
        with socket.create_connection((HOST, port), timeout=1) as s:
            s.settimeout(2)
            return s.recv(200).startswith(banner)

    def wait(self, timeout: float, proc=None) -> None:
        """Poll ``ok`` until it is true; raises StackError naming the log (and its tail) if not in time."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                last = f"exited with {proc.returncode}"
                break
            try:
                if self.ok():
                    return
            except Exception as exc:  # noqa: BLE001 - report the last one
                last = repr(exc)
            time.sleep(0.05)
        log = self.logfile
        raise StackError(
            f"{self.name} did not come up within {timeout:.0f}s ({last}); log: {log}\n--- tail of {log} ---\n{tail(log)}"
        )

    def log_start(self, log, argv: list) -> None:
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} start: {shlex.join(argv)}\n".encode())
        log.flush()

    def spawn(self, argv: list, env: dict | None = None, cwd: str | None = None):
        """Run argv in its own session, output to the service's log; records its PID."""
        log = open(self.logfile, "ab")  # noqa: SIM115 - handed to the child
        try:
            self.log_start(log, argv)
            proc = subprocess.Popen(  # noqa: S603
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, cwd=cwd, start_new_session=True, close_fds=True,
            )
        finally:
            log.close()
        self.write_pid(proc.pid)
        return proc

    def write_pid(self, pid: int) -> None:
        with open(self.pidfile, "w", encoding="ascii") as fh:
            fh.write(f"{pid}\n")
