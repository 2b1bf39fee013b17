# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A booted systemd-nspawn container for tests: systemd as PID 1 on a cached Debian rootfs.

The rootfs comes from build_rootfs.sh and is booted with --volatile=overlay (left untouched).
Without --private-network the container shares the host's loopback, so it reaches the test stack
and the host reaches the services inside. Each container gets a cgroup of its own (v1 hybrid here)
that is removed after it stops, with the empty propagate folder nspawn leaves in /run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Optional

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.join(HERE, "build_rootfs.sh")
CGROUP_ROOTS = ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified")
GUEST_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "HOME=/root"]


class ContainerError(RuntimeError):
    """The container did not boot or a command in it failed."""


def build_rootfs(suite: str = "bookworm") -> str:
    """The path of the cached rootfs (built first if missing)."""
    proc = subprocess.run(["bash", BUILD, suite], capture_output=True, text=True, check=False, timeout=900)
    if proc.returncode != 0:
        raise ContainerError("building the %s rootfs failed:\n%s" % (suite, proc.stderr[-3000:]))
    return proc.stdout.strip().splitlines()[-1]


def _children(pid: int):
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, encoding="ascii", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        if ppid == pid:
            yield int(entry), comm


class Container:
    """``with Container(rootfs, name) as box: box.run(["systemctl", "is-system-running"])``."""

    def __init__(self, rootfs: str, name: str, binds_ro=(), log_path: Optional[str] = None, boot: bool = True):
        """boot=False: no systemd, a plain process tree (like a host without systemd) under nspawn's stub init."""
        self.rootfs, self.name, self.boot = rootfs, name, boot
        self.binds_ro = [b for b in binds_ro if b]
        self.log_path = log_path or "/tmp/%s.console.log" % name
        self.proc = None
        self.pid = None  # the host PID of the container's systemd

    # -- lifecycle ---------------------------------------------------------------
    def _cgroups(self):
        return [os.path.join(root, self.name) for root in CGROUP_ROOTS if os.path.isdir(root)]

    def start(self, timeout: float = 60.0) -> "Container":
        for group in self._cgroups():
            os.makedirs(group, exist_ok=True)
        # the launching shell moves itself into the container's own cgroups, then becomes nspawn
        enter = "".join('echo $$ >%s/cgroup.procs; ' % group for group in self._cgroups())
        argv = ["systemd-nspawn", "--register=no", "--keep-unit", "-q", "-D", self.rootfs, "-M", self.name,
                "--volatile=overlay", "--console=pipe"]
        argv += ["--bind-ro=%s" % path for path in self.binds_ro]
        argv += ["-b"] if self.boot else ["--as-pid2", "/bin/sleep", "infinity"]
        log = open(self.log_path, "wb")  # pylint: disable=consider-using-with
        self.proc = subprocess.Popen(["/bin/sh", "-c", enter + 'exec "$@"', "nspawn"] + argv,  # pylint: disable=consider-using-with
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while self.pid is None:
            self.pid = self._find_payload()
            self._check_alive(deadline)
            time.sleep(0.05)
        if not self.boot:
            return self
        # the bus appears just after boot: retry until systemctl answers
        while True:
            state = self.run(["systemctl", "is-system-running", "--wait"], check=False, timeout=timeout)
            if state.stdout.strip() in ("running", "degraded"):
                break
            self._check_alive(deadline)
            time.sleep(0.1)
        if state.stdout.strip() != "running":
            failed = self.run(["systemctl", "--failed", "--no-legend"], check=False).stdout
            raise ContainerError("%s booted degraded; failed units:\n%s" % (self.name, failed))
        return self

    def _find_payload(self) -> Optional[int]:
        """The container's systemd (a child of nspawn), or without boot the sleep under the stub init."""
        for pid, comm in _children(self.proc.pid):
            if self.boot and comm == "systemd":
                return pid
            if not self.boot:
                return next((grandchild for grandchild, name in _children(pid) if name == "sleep"), None)
        return None

    def _check_alive(self, deadline: float) -> None:
        if self.proc.poll() is not None:
            raise ContainerError("systemd-nspawn ended (exit %s); console log: %s\n%s"
                                 % (self.proc.returncode, self.log_path, self.console()[-3000:]))
        if time.monotonic() > deadline:
            raise ContainerError("%s did not boot in time; console log: %s" % (self.name, self.log_path))

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # nspawn halts the guest cleanly
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        for group in self._cgroups():
            _remove_cgroup(group)
        propagate = "/run/systemd/nspawn/propagate/%s" % self.name
        if os.path.isdir(propagate):
            os.rmdir(propagate)

    def __enter__(self) -> "Container":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    def console(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    # -- inside ------------------------------------------------------------------
    def run(self, argv, check: bool = True, timeout: float = 120.0, input_text: Optional[str] = None):
        """Run argv inside every namespace of the container, with a clean environment."""
        proc = subprocess.run(["nsenter", "-t", str(self.pid), "-a", "--", "env", "-i"] + GUEST_ENV + list(argv),
                              input=input_text, stdin=None if input_text is not None else subprocess.DEVNULL,
                              capture_output=True, text=True, check=False, timeout=timeout)
        if check and proc.returncode != 0:
            output = proc.stdout[-2000:] + proc.stderr[-2000:]
            raise ContainerError("%s exited %d in %s:\n%s" % (argv, proc.returncode, self.name, output))
        return proc

    def sh(self, script: str, check: bool = True, timeout: float = 120.0):
        return self.run(["/bin/sh", "-c", script], check=check, timeout=timeout)


def _remove_cgroup(path: str) -> None:
    """rmdir a cgroup tree depth first (cgroupfs refuses rm -r)."""
    if not os.path.isdir(path):
        return
    for root, dirs, _files in os.walk(path, topdown=False):
        for name in dirs:
            try:
                os.rmdir(os.path.join(root, name))
            except OSError:
                pass
    try:
        os.rmdir(path)
    except OSError:
        pass
