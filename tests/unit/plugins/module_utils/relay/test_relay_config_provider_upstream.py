# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""An account's ``provider`` chooses its upstream defaults (smtp.gmail.com:587 for google)."""
from __future__ import annotations

import pytest

from ansible_collections.xoauth2.mail.plugins.module_utils._relay.config import ConfigError, parse_config

from relay_unit_support import base_config


def _upstream(tmp_path, **account):
    data = base_config(tmp_path, **account)
    if account.get("upstream") is None:
        del data["accounts"][0]["upstream"]
    cfg = parse_config(data, str(tmp_path / "relay.json"))
    up = cfg.accounts[0].upstream
    return cfg.accounts[0], (up.host, up.port, up.security)


@pytest.mark.parametrize("provider, expected", [
    ("google", ("smtp.gmail.com", 587, "starttls")),
    ("microsoft", ("smtp.office365.com", 587, "starttls")),
])
def test_no_upstream_takes_the_providers_server(tmp_path, provider, expected):
    account, upstream = _upstream(tmp_path, provider=provider, upstream=None)
    assert upstream == expected and account.provider == provider


def test_upstream_keys_without_host_change_only_their_part(tmp_path):
    assert _upstream(tmp_path, provider="google", upstream={"security": "tls"})[1] == ("smtp.gmail.com", 465, "tls")
    assert _upstream(tmp_path, provider="google", upstream={"port": 2525})[1] == ("smtp.gmail.com", 2525, "starttls")


def test_a_given_host_wins_over_the_provider(tmp_path):
    upstream = _upstream(tmp_path, provider="google", upstream={"host": "127.0.0.1", "port": 1587})[1]
    assert upstream == ("127.0.0.1", 1587, "starttls")


@pytest.mark.parametrize("account", [
    {"upstream": None},
    {"upstream": {"port": 587}},
    {"provider": "oidc", "upstream": None},
])
def test_without_host_and_without_a_provider_server_the_error_names_the_host(tmp_path, account):
    with pytest.raises(ConfigError) as error:
        _upstream(tmp_path, **account)
    assert error.value.key == "accounts[0].upstream.host"
    assert "google, microsoft" in str(error.value)


def test_unknown_provider_is_refused(tmp_path):
    with pytest.raises(ConfigError) as error:
        _upstream(tmp_path, provider="yahoo", upstream=None)
    assert error.value.key == "accounts[0].provider" and "google" in str(error.value)
