# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Small builders for the relay helper's unit tests."""
from __future__ import annotations

import base64
import os

from ansible_collections.xoauth2.mail.plugins.module_utils._relay.config import parse_config


def base_config(tmp_path, **account):
    key_file = tmp_path / "k"
    if not key_file.exists():
        key_file.write_text(base64.b64encode(os.urandom(32)).decode())
    entry = {"name": "alice", "username": "alice@example.test", "token_file": str(tmp_path / "alice.token"),
             "key_file": str(key_file), "local_secret": "s3cret",
             "upstream": {"host": "smtp.example.test"}}
    entry.update(account)
    return {"accounts": [entry]}


def config(tmp_path, top=None, **account):
    data = base_config(tmp_path, **account)
    data.update(top or {})
    return parse_config(data, str(tmp_path / "relay.json"))
