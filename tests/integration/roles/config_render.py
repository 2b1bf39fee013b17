# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Render relay_helper's config.json template the way the role does (its defaults, then extra vars), for the
tests that check what the helper is given."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

from local_play import local_play

ROLE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "relay_helper"))
PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")

PLAY_NAME = "Render the helper's configuration as the role does"
PLAY = """
  tasks:
    - name: The role's defaults
      ansible.builtin.include_vars:
        file: {role}/defaults/main.yml
    - name: Render
      ansible.builtin.template:
        src: {role}/templates/config.json.j2
        dest: {dest}
        mode: "0600"
      vars:
        relay_helper__accounts: {accounts}
"""


def write_key_file(tmp_path):
    key_file = tmp_path / "k"
    key_file.write_text(base64.b64encode(os.urandom(32)).decode())
    return key_file


def render_config(tmp_path, accounts, extra_vars=None):
    """(the rendered config as data, its path); ``extra_vars`` sit above the defaults include_vars loads."""
    dest = tmp_path / "config.json"
    play = tmp_path / "play.yml"
    play.write_text(local_play(PLAY_NAME, PLAY.format(role=ROLE, dest=dest, accounts=json.dumps(accounts))))
    command = [PLAYBOOK, "-i", "localhost,"]
    if extra_vars is not None:
        extra_file = tmp_path / "extra.json"
        extra_file.write_text(json.dumps(extra_vars))
        command += ["-e", "@%s" % extra_file]
    result = subprocess.run(command + [str(play)], capture_output=True, stdin=subprocess.DEVNULL, text=True,
                            check=False, env=dict(os.environ, ANSIBLE_NOCOLOR="1"), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(dest.read_text()), dest
