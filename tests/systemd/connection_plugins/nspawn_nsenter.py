# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test-only connection into a booted systemd-nspawn container: every command runs through
``nsenter -t PID -a`` (all of the container's namespaces) with a clean environment, and files travel
through ``cat`` inside the container (paths resolve in the container's own root, symlinks included)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: nspawn_nsenter
short_description: Run commands in a booted systemd-nspawn container through nsenter (tests only)
description:
  - Enters every namespace of the container's PID 1 with C(nsenter -t PID -a). Needs root on the controller.
author: xoauth2.mail contributors
options:
  remote_addr:
    description: The host PID of the container's systemd (its PID 1).
    vars:
      - name: ansible_host
"""

import os
import subprocess

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.connection import ConnectionBase

# What a login shell inside would have; nothing of the controller's environment leaks in
# (this machine exports CA bundle paths that do not exist in the container).
GUEST_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "HOME=/root"]


class Connection(ConnectionBase):
    transport = "nspawn_nsenter"
    has_pipelining = True

    def _pid(self) -> str:
        pid = str(self.get_option("remote_addr"))
        if not pid.isdigit() or not os.path.exists("/proc/%s/ns/mnt" % pid):
            raise AnsibleConnectionFailure("no container process with PID %r" % pid)
        return pid

    def _guest(self, argv, stdin_data=None, stdin_file=None):
        command = ["nsenter", "-t", self._pid(), "-a", "--", "env", "-i"] + GUEST_ENV + list(argv)
        stdin = stdin_file if stdin_file is not None else (subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL)
        proc = subprocess.run(command, input=stdin_data, stdin=None if stdin_data is not None else stdin,
                              capture_output=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    def _connect(self):
        self._connected = True
        return self

    def exec_command(self, cmd, in_data=None, sudoable=True):
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        return self._guest(["/bin/sh", "-c", cmd], stdin_data=in_data)

    def put_file(self, in_path, out_path):
        super().put_file(in_path, out_path)
        with open(in_path, "rb") as source:
            rc, _out, err = self._guest(["/bin/sh", "-c", 'cat >"$1"', "put", out_path], stdin_file=source)
        if rc != 0:
            raise AnsibleConnectionFailure("could not write %s in the container: %s" % (out_path, err.decode(errors="replace")))

    def fetch_file(self, in_path, out_path):
        super().fetch_file(in_path, out_path)
        rc, out, err = self._guest(["cat", "--", in_path])
        if rc != 0:
            raise AnsibleConnectionFailure("could not read %s in the container: %s" % (in_path, err.decode(errors="replace")))
        with open(out_path, "wb") as target:
            target.write(out)

    def close(self):
        self._connected = False
