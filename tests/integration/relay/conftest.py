# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for the relay helper against the real stack (IdP, Postfix submission, Dovecot)."""
from __future__ import annotations

import os

import pytest

import relay_support as rs
from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile


@pytest.fixture
def relay_files(mail_stack, idp, tmp_path):
    """Key file and app-only token files for alice (relay-app) and bob (relay-app-bob)."""
    key_file = tmp_path / "relay.key"
    key = rs.write_key(str(key_file))
    accounts = [rs.account_entry(mail_stack, tmp_path, "alice", "relay-app", key_file),
                rs.account_entry(mail_stack, tmp_path, "bob", "relay-app-bob", key_file)]
    for entry, client_id in zip(accounts, ("relay-app", "relay-app-bob")):
        rs.make_token(mail_stack, entry["token_file"], key, client_id)
    idp.reset()  # count only what the relay does
    return {"key": key, "key_file": key_file, "accounts": accounts, "config": str(tmp_path / "relay.json")}


@pytest.fixture
def start_relay(mail_stack, relay_files):
    started = []

    def start(accounts=None, **top):
        path = rs.write_config(relay_files["config"], accounts or relay_files["accounts"], **top)
        relay = rs.RelayProcess(path)
        started.append(relay)
        return relay

    yield start
    for relay in started:
        relay.stop()
    # whatever the test did: no token, client secret or local secret in any log line
    secrets = set(mail_stack.clients[c] for c in ("relay-app", "relay-app-bob"))
    for entry in relay_files["accounts"]:
        secrets.add(entry["local_secret"])
        record = TokenFile(entry["token_file"], relay_files["key"]).read() if os.path.exists(entry["token_file"]) \
            else None
        if record is not None:
            secrets.update(v for v in (record.access_token, record.refresh_token) if v)
    for relay in started:
        leaked = [s for s in secrets if s in relay.log]
        assert not leaked, "secret material in the relay's log"
