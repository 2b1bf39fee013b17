# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The postfix_relay role run by ansible-playbook on a separate Postfix instance in a tmp folder.

The instance has no smtpd listener, so it clashes with nothing; it is stopped and removed afterwards.
(extensions/molecule/postfix_relay covers the rest: idempotence, the login tables, a relayed message.)
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

import pytest

from postfix_instance import POSTFIX, stop_master
from local_play import local_play
PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")

pytestmark = [
    pytest.mark.skipif(POSTFIX is None or not os.path.isfile("/usr/share/postfix/main.cf.dist"),
                       reason="needs Debian's postfix package (tests/stack/install.sh)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the role needs root"),
]

PLAY_NAME = "A caller with a handler of its own, then the role"
PLAY = """
  handlers:
    - name: Caller handler
      ansible.builtin.set_fact:
        caller_handler_ran: true
  tasks:
    - name: Notify the caller's handler before the role
      ansible.builtin.debug:
        msg: notify
      changed_when: true
      notify: Caller handler

    - name: Apply the role
      ansible.builtin.include_role:
        name: xoauth2.mail.postfix_relay
      vars:
        postfix_relay_config_dir: {config_dir}
        postfix_relay_install: false
        postfix_relay_service_method: postfix
        postfix_relay_smtpd_service: ""
        postfix_relay_default_username: fallback
        postfix_relay_default_password: role-test-only-secret
        postfix_relay_extra_settings: {extra}

    - name: The role left the caller's handler alone
      ansible.builtin.assert:
        that: caller_handler_ran is not defined
        fail_msg: the role flushed the caller's handlers

    - name: Run the caller's handlers now
      ansible.builtin.meta: flush_handlers

    - name: The caller's handler ran when the caller asked
      ansible.builtin.assert:
        that: caller_handler_ran | default(false)
"""


@pytest.fixture
def relay_dir():
    # Postfix's daemons run as postfix: pytest's tmp_path is private to root
    root = tempfile.mkdtemp(prefix="xoauth2-role-")
    os.chmod(root, 0o755)
    config_dir = os.path.join(root, "postfix")
    yield config_dir
    if os.path.isfile(os.path.join(config_dir, "main.cf")):
        subprocess.run([POSTFIX, "-c", config_dir, "stop"], capture_output=True, check=False, timeout=60)
    stop_master(os.path.join(config_dir + "-queue", "pid", "master.pid"))  # should `postfix stop` have refused
    shutil.rmtree(root, ignore_errors=True)


def play(tmp_path, config_dir, extra="{}"):
    path = tmp_path / "play.yml"
    path.write_text(local_play(PLAY_NAME, PLAY.format(config_dir=config_dir, extra=extra)))
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_HOST_KEY_CHECKING="False")
    return subprocess.run([PLAYBOOK, "-i", "localhost,", str(path)], capture_output=True, stdin=subprocess.DEVNULL, text=True, check=False,
                          env=env, timeout=300)


def running(config_dir):
    return subprocess.run([POSTFIX, "-c", config_dir, "status"], capture_output=True, check=False).returncode == 0


def test_role_starts_the_instance_and_leaves_the_callers_handlers_alone(tmp_path, relay_dir):
    first = play(tmp_path, relay_dir)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    assert running(relay_dir)
    assert os.path.isfile(os.path.join(relay_dir, "sasl_passwd.db"))

    # a change of main.cf on a running instance: checked and reloaded by the role's own tasks
    second = play(tmp_path, relay_dir, extra="{queue_run_delay: 10s}")
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-2000:]
    assert re.search(r"reload the Postfix instance if it runs\] \**\nchanged: \[localhost\]", second.stdout), \
        second.stdout[-4000:]
    assert running(relay_dir)


def test_a_myorigin_file_that_is_missing_falls_back_to_the_hosts_fqdn(tmp_path, relay_dir):
    # Debian 13's pristine main.cf says myorigin = /etc/mailname, which "No configuration" never writes;
    # the same here with a file that surely is missing, since this machine may have an /etc/mailname.
    os.makedirs(relay_dir, mode=0o755)
    shutil.copy("/usr/share/postfix/main.cf.dist", os.path.join(relay_dir, "main.cf"))
    with open(os.path.join(relay_dir, "main.cf"), "a", encoding="utf-8") as handle:
        handle.write("myorigin = /nonexistent-xoauth2/mailname\n")
    result = play(tmp_path, relay_dir)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    myorigin = subprocess.run(["postconf", "-c", relay_dir, "-h", "myorigin"], capture_output=True, text=True,
                              check=True).stdout.strip()
    assert myorigin == socket.getfqdn() and not myorigin.startswith("/")
    assert running(relay_dir)
