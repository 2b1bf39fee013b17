# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Configuration: defaults, validation with errors naming the key, local secrets."""
from __future__ import annotations

import hashlib

import pytest

from ansible_collections.xoauth2.mail.plugins.module_utils._relay import secrets
from ansible_collections.xoauth2.mail.plugins.module_utils._relay.config import ConfigError, parse_config

from relay_unit_support import base_config, config


def test_defaults(tmp_path):
    cfg = config(tmp_path)
    assert (cfg.listen_host, cfg.listen_port) == ("127.0.0.1", 10587)
    assert cfg.min_validity == 600 and cfg.accounts[0].min_validity == 600
    account = cfg.accounts[0]
    assert (account.upstream.port, account.upstream.security) == (587, "starttls")
    assert account.local_username == "alice"
    assert cfg.keepalive_interval == 86400
    assert "s3cret" not in repr(cfg)


def test_implicit_tls_defaults_to_465(tmp_path):
    cfg = config(tmp_path, upstream={"host": "smtp.example.test", "security": "tls"})
    assert cfg.accounts[0].upstream.port == 465


@pytest.mark.parametrize("top, account, key", [
    ({"listen": "0.0.0.0:25"}, {}, "listen"),
    ({"listen": "10587"}, {}, "listen"),
    ({"listne": "127.0.0.1:1"}, {}, "listne"),
    ({"log_level": "chatty"}, {}, "log_level"),
    ({"timeouts": {"client": -1}}, {}, "timeouts.client"),
    ({"pool": {"size": 0}}, {}, "pool.size"),
    ({"min_validity": "600"}, {}, "min_validity"),
    ({"tls_cert_file": "/etc/hostname"}, {}, "tls_cert_file"),
    ({}, {"upstream": {"host": "h", "security": "plain"}}, "accounts[0].upstream.security"),
    ({}, {"upstream": {"host": "h", "port": 70000}}, "accounts[0].upstream.port"),
    ({}, {"upstream": {"port": 587}}, "accounts[0].upstream.host"),
    ({}, {"upstream": {"host": "h", "ca_file": "/nonexistent/ca.pem"}}, "accounts[0].upstream.ca_file"),
    ({}, {"key_file": "/nonexistent"}, "accounts[0].key_file"),
    ({}, {"token_file": ""}, "accounts[0].token_file"),
    ({}, {"local_secret": None}, "accounts[0].local_secret"),
    ({}, {"local_secret_hash": "pbkdf2_sha256$10$c2FsdA==$eA=="}, "accounts[0].local_secret"),
    ({}, {"sender": "x"}, "accounts[0].sender"),
])
def test_errors_name_the_key(tmp_path, top, account, key):
    with pytest.raises(ConfigError) as error:
        config(tmp_path, top, **account)
    assert error.value.key == key
    assert str(error.value).startswith(key + ":")
    assert "s3cret" not in str(error.value)


def test_bad_hash_is_named(tmp_path):
    with pytest.raises(ConfigError) as error:
        config(tmp_path, local_secret=None, local_secret_hash="md5$abc")
    assert error.value.key == "accounts[0].local_secret_hash"


def test_non_loopback_needs_explicit_permission(tmp_path):
    (tmp_path / "c.pem").write_text("cert")
    (tmp_path / "k.pem").write_text("key")
    cfg = config(tmp_path, {"listen": "192.0.2.1:2525", "allow_non_loopback": True,
                            "tls_cert_file": str(tmp_path / "c.pem"), "tls_key_file": str(tmp_path / "k.pem")})
    assert cfg.listen_host == "192.0.2.1"
    assert config(tmp_path, {"listen": "[::1]:2525"}).listen_host == "::1"


def test_duplicate_accounts_and_local_usernames(tmp_path):
    data = base_config(tmp_path)
    data["accounts"].append(dict(data["accounts"][0]))
    with pytest.raises(ConfigError) as error:
        parse_config(data)
    assert error.value.key == "accounts[1].name"
    data["accounts"][1].update(name="other", local_username="alice")
    with pytest.raises(ConfigError) as error:
        parse_config(data)
    assert error.value.key == "accounts[1].local_username"


def test_local_secret_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    cfg = config(tmp_path, local_secret=None, local_secret_file=str(secret))
    assert cfg.accounts[0].verifier.verify("from-a-file")
    assert not cfg.accounts[0].verifier.verify("from-a-file\n")


def test_plain_secret_is_checked_without_key_derivation(tmp_path, monkeypatch):
    cfg = config(tmp_path)
    calls = []
    monkeypatch.setattr(hashlib, "pbkdf2_hmac", lambda *a: calls.append(a))
    verifier = cfg.accounts[0].verifier
    assert verifier.verify("s3cret") and not verifier.verify("s3cret ") and not verifier.verify("")
    assert calls == []


def test_hashed_secret_derives_once_then_uses_the_cached_verifier(tmp_path, monkeypatch):
    stored = secrets.hash_secret("hashed-one", iterations=1000)
    cfg = config(tmp_path, local_secret=None, local_secret_hash=stored)
    verifier = cfg.accounts[0].verifier
    real = hashlib.pbkdf2_hmac
    calls = []

    def counting(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(hashlib, "pbkdf2_hmac", counting)
    assert not verifier.verify("wrong")
    assert verifier.verify("hashed-one")
    derived = len(calls)
    for dummy in range(5):
        assert verifier.verify("hashed-one")
    assert not verifier.verify("wrong")
    assert len(calls) == derived == 2
    assert "hashed-one" not in repr(verifier)
