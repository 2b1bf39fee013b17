# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""relay_helper's configuration template with Google accounts: the provider goes to the helper, which then
takes Gmail's server when the account names no upstream host."""
from __future__ import annotations

import os

import yaml
from config_render import ROLE, render_config, write_key_file

from ansible_collections.xoauth2.mail.plugins.module_utils._relay.config import parse_config
from ansible_collections.xoauth2.mail.plugins.module_utils._relay.secrets import hash_secret


def _render(tmp_path, accounts):
    key_file = write_key_file(tmp_path)
    for account in accounts:
        account.update(token_file=str(tmp_path / (account["name"] + ".token")), key_file=str(key_file),
                       local_username=account["name"], local_secret_hash=hash_secret("s3cret", iterations=1000))
    data, dest = render_config(tmp_path, accounts)
    return data, parse_config(data, str(dest))


def test_google_account_without_upstream_host_relays_to_gmail(tmp_path):
    # what main.yml hands the template: upstream filled with the default security only
    data, config = _render(tmp_path, [
        {"name": "reports", "mailbox": "reports@example.org", "provider": "google", "flow": "service_account",
         "upstream": {"security": "starttls"}},
        {"name": "alerts", "mailbox": "alerts@example.org", "provider": "google",
         "upstream": {"security": "tls"}},
        {"name": "m365", "mailbox": "m365@example.org", "provider": "microsoft", "upstream": {"security": "starttls"}},
        {"name": "own", "provider": "google", "upstream": {"host": "127.0.0.1", "port": 1587, "security": "starttls"}},
    ])
    assert data["accounts"][0]["provider"] == "google" and "host" not in data["accounts"][0]["upstream"]
    servers = {a.name: (a.upstream.host, a.upstream.port, a.upstream.security) for a in config.accounts}
    assert servers == {"reports": ("smtp.gmail.com", 587, "starttls"), "alerts": ("smtp.gmail.com", 465, "tls"),
                       "m365": ("smtp.office365.com", 587, "starttls"), "own": ("127.0.0.1", 1587, "starttls")}


def test_argument_specs_take_google_accounts():
    specs = yaml.safe_load(open(os.path.join(ROLE, "meta", "argument_specs.yml")))["argument_specs"]["main"]["options"]
    account = specs["relay_helper_accounts"]["options"]
    assert "google" in account["provider"]["choices"]
    assert not account["upstream"]["options"]["host"].get("required", False)
    assert account["service_account_key"]["no_log"] is True and account["service_account_key_file"]["type"] == "path"
    for name in ("auth_code_mode", "auth_code_redirect_uri", "auth_code_timeout"):
        assert name in account
    # every account key the token task passes on is documented
    tasks = open(os.path.join(ROLE, "tasks", "tokens.yml")).read()
    for name in ("service_account_key_file", "service_account_key", "auth_code_mode", "auth_code_redirect_uri",
                 "auth_code_timeout"):
        assert "relay_helper__account.%s " % name in tasks, name
