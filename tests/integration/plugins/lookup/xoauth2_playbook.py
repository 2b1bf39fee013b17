# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run ansible-playbook against localhost with this checkout as the xoauth2.mail collection.

Shared by the lookup and action plugin tests (imported by path-unique name,
not through ``conftest``, whose module name clashes between test folders).
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")


def playbook_env(extra=None):
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_STDOUT_CALLBACK": "default",
        "PYTHONUNBUFFERED": "1",
    })
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env.update(extra or {})
    return env


def write_playbook(folder, text, hosts=1):
    """The playbook and an inventory of ``hosts`` local hosts (h0, h1, ...)."""
    playbook = os.path.join(str(folder), "play.yml")
    with open(playbook, "w") as handle:
        handle.write(textwrap.dedent(text))
    inventory = os.path.join(str(folder), "hosts.ini")
    with open(inventory, "w") as handle:
        handle.write("[local]\n")
        for number in range(hosts):
            handle.write("h%d ansible_connection=local ansible_python_interpreter=%s\n" % (number, sys.executable))
    return playbook, inventory


def command(playbook, inventory, *args):
    return [ANSIBLE_PLAYBOOK, "-i", inventory, playbook] + list(args)


def run_playbook(folder, text, *args, hosts=1, env=None, timeout=300):
    playbook, inventory = write_playbook(folder, text, hosts)
    proc = subprocess.run(command(playbook, inventory, *args), capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          env=playbook_env(env), cwd=str(folder), timeout=timeout, check=False)
    return proc.returncode, proc.stdout + proc.stderr
