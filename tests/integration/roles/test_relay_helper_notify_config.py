# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""relay_helper's relay_helper_notify_* variables: rendered by Ansible into config.json, accepted by the helper."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import yaml

from ansible_collections.xoauth2.mail.plugins.module_utils._relay.config import parse_config
from ansible_collections.xoauth2.mail.plugins.module_utils._relay.secrets import hash_secret

ROLE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "relay_helper"))
PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")

PLAY = """
- name: Render the helper's configuration as the role does
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: {python}
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


def _render(tmp_path, extra):
    key_file = tmp_path / "k"
    key_file.write_text(base64.b64encode(os.urandom(32)).decode())
    accounts = [{"name": "alice", "token_file": str(tmp_path / "alice.token"), "key_file": str(key_file),
                 "local_username": "alice", "upstream": {"host": "smtp.example.test"},
                 "local_secret_hash": hash_secret("s3cret", iterations=1000)}]
    dest = tmp_path / "config.json"
    play = tmp_path / "play.yml"
    play.write_text(PLAY.format(python=sys.executable, role=ROLE, dest=dest, accounts=json.dumps(accounts)))
    extra_vars = tmp_path / "extra.json"  # extra vars: above the defaults that include_vars loads
    extra_vars.write_text(json.dumps(extra))
    result = subprocess.run([PLAYBOOK, "-i", "localhost,", "-e", "@%s" % extra_vars, str(play)],
                            capture_output=True, stdin=subprocess.DEVNULL, text=True, check=False,
                            env=dict(os.environ, ANSIBLE_NOCOLOR="1"), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(dest.read_text()), dest


def test_without_notify_variables_there_is_no_notify_section(tmp_path):
    data, path = _render(tmp_path, {})
    assert "notify" not in data
    assert parse_config(data, str(path)).notify is None


def test_notify_variables_become_the_helpers_notify_section(tmp_path):
    data, path = _render(tmp_path, {
        "relay_helper_notify_command": ["/bin/true", "--team", "mail"],
        "relay_helper_notify_webhook_url": "https://eda.example.test:5443/",
        "relay_helper_notify_webhook_token": "t0ken",
        "relay_helper_notify_fix": "Launch 'Mail re-authentication' for {account}",
        "relay_helper_notify_retry_interval": 30,
    })
    assert data["notify"] == {"timeout": 10, "retry_interval": 30, "command": ["/bin/true", "--team", "mail"],
                              "webhook_url": "https://eda.example.test:5443/", "webhook_token": "t0ken",
                              "fix": "Launch 'Mail re-authentication' for {account}"}
    notify = parse_config(data, str(path)).notify
    assert notify.channels == ("command", "webhook") and notify.retry_interval == 30


def test_argument_specs_document_every_notify_default():
    defaults = yaml.safe_load(open(os.path.join(ROLE, "defaults", "main.yml")))
    specs = yaml.safe_load(open(os.path.join(ROLE, "meta", "argument_specs.yml")))["argument_specs"]["main"]["options"]
    names = [n for n in defaults if n.startswith("relay_helper_notify_")]
    assert len(names) == 7
    for name in names:
        assert specs[name]["default"] == defaults[name], name
