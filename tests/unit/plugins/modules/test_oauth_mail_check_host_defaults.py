# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""oauth_mail_check without ``host``: the provider's own server (option, or the token file's stored provider)."""
from __future__ import annotations

import base64
import json
import os
import time

import pytest
from module_args import patch_module_args  # tests/unit/helpers: every ansible-core of the range

from ansible_collections.xoauth2.mail.plugins.module_utils._mail_login import LoginResult
from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile
from ansible_collections.xoauth2.mail.plugins.module_utils._token_record import TokenGrant, TokenRecord
from ansible_collections.xoauth2.mail.plugins.modules import oauth_mail_check


@pytest.fixture
def logins(monkeypatch):
    """Each check_login call's server (no network): the login is reported as refused, so the module fails."""
    calls = []

    def fake(protocol, host, port, security, username, token, **kwargs):
        calls.append((protocol, host, port, security))
        return LoginResult(protocol=protocol, host=host, port=port or 0, security=security, username=username,
                           authenticated=False, message="refused by the test")

    monkeypatch.setattr(oauth_mail_check, "check_login", fake)
    monkeypatch.setattr(oauth_mail_check, "require", lambda name: None)  # imapclient is not needed by the fake
    return calls


def run(args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            oauth_mail_check.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("protocol, provider, expected", [
    ("imap", "google", ("imap", "imap.gmail.com", 993, "tls")),
    ("smtp", "google", ("smtp", "smtp.gmail.com", 587, "starttls")),
    ("imap", "microsoft", ("imap", "outlook.office365.com", 993, "tls")),
    ("smtp", "microsoft", ("smtp", "smtp.office365.com", 587, "starttls")),
])
def test_provider_option_gives_the_server(logins, capsys, protocol, provider, expected):
    result = run({"protocol": protocol, "provider": provider, "access_token": "at", "username": "a@example.test"},
                 capsys)
    assert logins == [expected]
    assert result["host"] == expected[1]


def test_stored_provider_of_the_token_file_gives_the_server(logins, capsys, tmp_path):
    key = os.urandom(32)
    now = time.time()
    record = TokenRecord().with_grant(TokenGrant(access_token="at-1", expires_in=3600, requested_at=now), now)
    record.meta.update(provider="google", authority="https://accounts.google.com", client_id="sa@x.iam",
                       flow="service_account", scopes=["https://mail.google.com/"], username="a@example.test")
    path = str(tmp_path / "t.token")
    TokenFile(path, key).replace(record)
    run({"protocol": "smtp", "token_file": path, "encryption_key": base64.b64encode(key).decode()}, capsys)
    assert logins == [("smtp", "smtp.gmail.com", 587, "starttls")]


def test_explicit_host_and_security_win(logins, capsys):
    run({"protocol": "smtp", "provider": "google", "host": "127.0.0.1", "security": "tls", "access_token": "at",
         "username": "a@example.test"}, capsys)
    assert logins == [("smtp", "127.0.0.1", 465, "tls")]


def test_no_host_with_oidc_fails_naming_host_before_any_login(logins, capsys):
    result = run({"protocol": "imap", "provider": "oidc", "access_token": "at", "username": "a@example.test"}, capsys)
    assert result["failed"] is True and logins == []
    assert result["error_option"] == "host" and "host is required" in result["msg"]
    assert "Traceback" not in json.dumps(result)
