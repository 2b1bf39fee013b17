# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the systemd suite: a booted Debian container (systemd as PID 1) and ansible-playbook
runs of the roles inside it (connection plugin nspawn_nsenter, next to this file).

Knobs: XOAUTH2_NSPAWN_SUITE (bookworm, or trixie), XOAUTH2_NSPAWN_CACHE (rootfs cache folder).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from nspawn import Container, build_rootfs  # noqa: E402  pylint: disable=wrong-import-position

sys.path.insert(0, os.path.join(os.path.dirname(HERE), "stack"))
# the host's test stack: mail submitted in the container must reach its IMAP inboxes
from stack_fixtures import idp, mail_stack, stack  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import

PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
SUITE = os.environ.get("XOAUTH2_NSPAWN_SUITE", "bookworm")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="systemd-nspawn needs root")


GUEST_CA = "/usr/local/share/ca-certificates/xoauth2-test-stack.crt"

PLAY_HEADER = """
- name: {title}
  hosts: box
  gather_facts: true
  tasks:
    - name: {manager_check}
      ansible.builtin.assert:
        that: ansible_facts['service_mgr'] {manager_test}

    - name: {ca_task}
      ansible.builtin.copy:
        src: "{{host_ca}}"
        dest: "{{ca}}"
        owner: root
        group: root
        mode: "0644"
"""


def play_header(title: str, manager_check: str, manager_test: str, ca_task: str) -> str:
    """How every play of this suite starts: the container, a check of its service manager, the test stack's CA
    copied in. A str.format template like the rest of the play (fields ``host_ca`` and ``ca``: see stack_fields)."""
    return PLAY_HEADER.format(title=title, manager_check=manager_check, manager_test=manager_test, ca_task=ca_task)


def stack_fields(test_stack) -> dict:
    """The test stack's values a play of this suite is formatted with."""
    return {"issuer": test_stack.issuer, "host_ca": test_stack.ca_file, "ca": GUEST_CA,
            "submission": test_stack.submission_port}


def free_port() -> int:
    """A TCP port free on the loopback the container shares with the host."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def rootfs():
    if os.geteuid() != 0:
        pytest.skip("systemd-nspawn needs root")
    if shutil.which("apt-get") is None:
        pytest.skip("building the rootfs needs Debian's debootstrap (apt-get)")
    return build_rootfs(SUITE)


@pytest.fixture(scope="module")
def box(request, rootfs, mail_stack):  # noqa: F811  pylint: disable=unused-argument,redefined-outer-name
    """A container booted for one test module (sharing the host's loopback with the test stack).
    A module with BOOT = False gets one without systemd (a host with the init script)."""
    boot = getattr(request.module, "BOOT", True)
    container = Container(rootfs, "xoauth2-sd-%d-%s" % (os.getpid(), "boot" if boot else "init"), boot=boot)
    with container:
        yield container


class Converge:
    """ansible-playbook of a play against the container; the result keeps the output and the recap."""

    def __init__(self, box, tmp_dir):
        self.box, self.tmp_dir = box, tmp_dir

    def __call__(self, play: str, name: str = "play"):
        path = os.path.join(self.tmp_dir, name + ".yml")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(play)
        inventory = os.path.join(self.tmp_dir, "inventory.ini")
        with open(inventory, "w", encoding="utf-8") as handle:
            handle.write("box ansible_host=%d ansible_connection=nspawn_nsenter "
                         "ansible_python_interpreter=/usr/bin/python3\n" % self.box.pid)
        env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_CONNECTION_PLUGINS=os.path.join(HERE, "connection_plugins"),
                   ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_RETRY_FILES_ENABLED="False")
        proc = subprocess.run([PLAYBOOK, "-i", inventory, path], capture_output=True, text=True, check=False,
                              env=env, stdin=subprocess.DEVNULL, timeout=900)
        return PlayResult(proc)


class PlayResult:
    def __init__(self, proc):
        self.rc, self.stdout, self.stderr = proc.returncode, proc.stdout, proc.stderr
        recap = re.search(r"box\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", self.stdout)
        self.changed = int(recap.group(2)) if recap else None

    def tail(self) -> str:
        return self.stdout[-6000:] + self.stderr[-3000:]

    def changed_tasks(self):
        """Names of the tasks that reported changed."""
        names, current = [], None
        for line in self.stdout.splitlines():
            task = re.match(r"(?:TASK|RUNNING HANDLER) \[(.*)\]", line)
            if task:
                current = task.group(1)
            elif line.startswith("changed:") and current:
                names.append(current)
        return names


@pytest.fixture(scope="module")
def converge(box, tmp_path_factory):
    return Converge(box, str(tmp_path_factory.mktemp("systemd-play")))
