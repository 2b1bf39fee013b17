# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The relay during a key rotation: key_file lists old keys after the current one.

Real token files, the real TokenKeeper and TokenSession; only the identity
provider is a stand-in (one that fails the test if asked when it must not be).
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from ansible_collections.xoauth2.mail.plugins.module_utils._crypto import key_id
from ansible_collections.xoauth2.mail.plugins.module_utils._relay import cli
from ansible_collections.xoauth2.mail.plugins.module_utils._relay.config import ConfigError
from ansible_collections.xoauth2.mail.plugins.module_utils._relay.metrics import Metrics
from ansible_collections.xoauth2.mail.plugins.module_utils._relay.status import account_status
from ansible_collections.xoauth2.mail.plugins.module_utils._relay.tokens import TokenKeeper
from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile
from ansible_collections.xoauth2.mail.plugins.module_utils._token_record import TokenGrant

from relay_unit_support import base_config, config
from token_samples import make_record


def b64(key):
    return base64.b64encode(key).decode()


class Provider:
    calls = 0

    class session:  # noqa: N801 - the attribute the session sets its timeout on
        timeout = None

    def refresh(self, refresh_token):
        Provider.calls += 1
        return TokenGrant(access_token="at-new", expires_in=3600, requested_at=time.time(), refresh_token="rt-new")


def no_network(settings, credential):
    raise AssertionError("reading a token must not ask the identity provider")


@pytest.fixture
def keys(tmp_path):
    """(current, old): the key file lists the new key first and the old one after it."""
    current, old = os.urandom(32), os.urandom(32)
    (tmp_path / "k").write_text("%s\n%s\n" % (b64(current), b64(old)))
    return current, old


def envelope(path):
    with open(path) as handle:
        return json.load(handle)


def test_key_file_gives_the_current_key_and_previous_ones(tmp_path, keys):
    account = config(tmp_path).accounts[0]
    assert (account.key, account.previous_keys) == (keys[0], [keys[1]])
    # a reload with the old key dropped is a change of the account (its keeper is rebuilt)
    before = account.fingerprint
    (tmp_path / "k").write_text(b64(keys[0]) + "\n")
    assert config(tmp_path).accounts[0].fingerprint != before


def test_a_bad_previous_key_names_the_key_file(tmp_path, keys):
    (tmp_path / "k").write_text("%s\nAAAA\n" % b64(keys[0]))
    with pytest.raises(ConfigError) as error:
        config(tmp_path)
    assert error.value.key == "accounts[0].key_file" and "line 2" in str(error.value)


def test_the_relay_serves_an_old_key_file_and_renews_it_with_the_current_key(tmp_path, keys):
    current, old = keys
    cfg = config(tmp_path)
    account = cfg.accounts[0]
    TokenFile(account.token_file, old).replace(make_record(now=time.time()))
    before = open(account.token_file, "rb").read()
    executor = ThreadPoolExecutor(2)

    async def serve_then_renew():
        keeper = TokenKeeper(account, cfg, executor, Metrics())
        keeper.session.provider_factory = no_network
        served = await keeper.token()
        unchanged = open(account.token_file, "rb").read() == before
        keeper.session.provider_factory = lambda settings, credential: Provider()
        renewed = await keeper.renew_after_refusal(served)
        return served, unchanged, renewed

    try:
        Provider.calls = 0
        served, unchanged, renewed = asyncio.run(serve_then_renew())
    finally:
        executor.shutdown()
    assert served.access_token == "at-1" and unchanged  # read with the old key, left as it was
    assert renewed.access_token == "at-new" and Provider.calls == 1
    assert envelope(account.token_file)["key_id"] == key_id(current)
    assert envelope(account.token_file + ".bak")["key_id"] == key_id(current)


def test_status_names_files_still_on_an_old_key(tmp_path, keys, capsys):
    current, old = keys
    data = base_config(tmp_path)
    bob = dict(data["accounts"][0], name="bob", token_file=str(tmp_path / "bob.token"))
    data["accounts"].append(bob)
    path = tmp_path / "relay.json"
    path.write_text(json.dumps(data))
    cfg = config(tmp_path)
    TokenFile(cfg.accounts[0].token_file, old).replace(make_record(now=time.time()))
    TokenFile(bob["token_file"], current).replace(make_record(now=time.time()))

    info, code = account_status(cfg.accounts[0])
    assert (info["key"], info["key_id"], code) == ("previous", key_id(old), 0)
    assert "previous key" in info["message"] and "refresh alice" in info["message"]

    assert cli.main(["-c", str(path), "status", "--json"]) == 0
    accounts = {a["account"]: a for a in json.loads(capsys.readouterr().out)["accounts"]}
    assert (accounts["alice"]["key"], accounts["bob"]["key"]) == ("previous", "current")
    assert accounts["bob"]["key_id"] == key_id(current)

    cli.main(["-c", str(path), "status"])
    lines = capsys.readouterr().out.splitlines()
    assert any("alice" in line and "previous key" in line for line in lines)
    assert not any("bob" in line and "previous key" in line for line in lines)


def test_status_survives_a_malformed_status_side_file(tmp_path, keys):
    account = config(tmp_path).accounts[0]
    TokenFile(account.token_file, keys[0]).replace(make_record(now=time.time()))
    with open(account.token_file + ".status", "w") as handle:
        json.dump({"refreshes": "n/a", "failures": [], "last_success_at": "yesterday", "last_error": "x"}, handle)
    info, code = account_status(account)
    assert (info["state"], code, info["refreshes"], info["failures"]) == ("valid", 0, 0, 0)


def test_a_vulnerable_pip_release_stops_the_relay_at_load(tmp_path, keys, monkeypatch):
    import sys
    import types
    from ansible_collections.xoauth2.mail.plugins.module_utils import _dependencies
    old = types.ModuleType("requests")
    old.__version__ = "2.31.0"
    monkeypatch.setitem(sys.modules, "requests", old)
    monkeypatch.setattr(_dependencies, "_loaded", {})
    with pytest.raises(ConfigError) as error:
        config(tmp_path)
    assert error.value.key == "accounts[0].key_file"
    assert "requests>=2.32.4" in str(error.value) and "requests 2.31.0" in str(error.value)
