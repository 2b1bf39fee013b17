# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""relay_helper's relay_helper_notify_* variables: rendered by Ansible into config.json, accepted by the helper."""
from __future__ import annotations

import os

import yaml
from config_render import ROLE, render_config, write_key_file

from ansible_collections.xoauth2.mail.plugins.module_utils._relay.config import parse_config
from ansible_collections.xoauth2.mail.plugins.module_utils._relay.secrets import hash_secret


def _render(tmp_path, extra):
    key_file = write_key_file(tmp_path)
    accounts = [{"name": "alice", "token_file": str(tmp_path / "alice.token"), "key_file": str(key_file),
                 "local_username": "alice", "upstream": {"host": "smtp.example.test"},
                 "local_secret_hash": hash_secret("s3cret", iterations=1000)}]
    return render_config(tmp_path, accounts, extra_vars=extra)


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
