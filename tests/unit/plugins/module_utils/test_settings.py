# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import base64

import pytest

from ansible_collections.xoauth2.mail.plugins.module_utils._crypto import decode_key, load_key
from ansible_collections.xoauth2.mail.plugins.module_utils._errors import ConfigurationError
from ansible_collections.xoauth2.mail.plugins.module_utils._settings import TokenSettings


def test_microsoft_defaults_for_app_only():
    s = TokenSettings(provider="microsoft", tenant_id="contoso", client_id="app", client_secret="s").resolved()
    assert s.flow == "client_credentials"
    assert s.authority == "https://login.microsoftonline.com/contoso"
    assert s.scopes == ["https://outlook.office365.com/.default"]


def test_microsoft_defaults_for_delegated():
    s = TokenSettings(provider="microsoft", tenant_id="t", client_id="app", refresh_token="rt").resolved()
    assert s.flow == "refresh_token"
    assert s.scopes == ["https://outlook.office.com/SMTP.Send", "offline_access"]


def test_blank_secret_counts_as_missing_and_names_client_secret():
    s = TokenSettings(provider="oidc", authority="https://x/idp", client_id="app", client_secret="  ",
                      flow="client_credentials")
    assert s.client_secret is None
    from ansible_collections.xoauth2.mail.plugins.module_utils._provider_base import Provider
    with pytest.raises(ConfigurationError) as caught:
        Provider(s.resolved(), None, None).acquire()
    assert caught.value.option == "client_secret"


@pytest.mark.parametrize("kwargs, option", [
    (dict(provider="google2", client_id="a"), "provider"),
    (dict(provider="oidc", client_id="a", client_secret="s"), "authority"),
    (dict(provider="microsoft", client_id="a", client_secret="s"), "tenant_id"),
    (dict(provider="oidc", authority="https://x", client_secret="s"), "client_id"),
    (dict(provider="oidc", authority="https://x", client_id="a"), "flow"),
    (dict(provider="oidc", authority="ftp://x", client_id="a", client_secret="s"), "authority"),
    (dict(provider="oidc", authority="https://x", client_id="a", client_secret="s", timeout=0), "timeout"),
    (dict(provider="oidc", authority="https://x", client_id="a", flow="implicit"), "flow"),
])
def test_bad_settings_name_the_option(kwargs, option):
    with pytest.raises(ConfigurationError) as caught:
        TokenSettings(**kwargs).resolved()
    assert caught.value.option == option
    assert option in str(caught.value)


def test_missing_values_come_from_the_stored_token():
    meta = {"provider": "oidc", "authority": "https://x/idp", "client_id": "app", "flow": "refresh_token",
            "scopes": ["b", "a"], "username": "u"}
    s = TokenSettings().resolved(meta)
    assert s.mismatches(meta) == []


def test_mismatches_name_the_fields():
    meta = {"provider": "oidc", "authority": "https://x/idp", "client_id": "app", "flow": "client_credentials",
            "scopes": ["a"], "username": "u"}
    s = TokenSettings(client_secret="s", scopes=["a", "b"], username="v").resolved(meta)
    assert s.mismatches(meta) == ["scopes", "username"]


def test_scopes_given_as_text_are_split():
    assert TokenSettings(scopes="a b,c").scopes == ["a", "b", "c"]


def test_settings_repr_hides_secrets():
    text = repr(TokenSettings(client_secret="s3cr3t", refresh_token="rt-xyz", client_certificate_password="pw1"))
    assert "s3cr3t" not in text and "rt-xyz" not in text and "pw1" not in text


def test_key_decoding():
    good = base64.b64encode(b"k" * 32).decode()
    assert decode_key(good + "\n", "encryption_key") == b"k" * 32
    with pytest.raises(ConfigurationError) as caught:
        decode_key(base64.b64encode(b"short").decode(), "encryption_key")
    assert "256 bits" in str(caught.value) and caught.value.option == "encryption_key"
    with pytest.raises(ConfigurationError) as caught:
        decode_key("not base64 !!", "encryption_key")
    assert "openssl rand -base64 32" in str(caught.value)


def test_key_file_errors_name_the_option(tmp_path):
    with pytest.raises(ConfigurationError) as caught:
        load_key(None, str(tmp_path / "missing.key"))
    assert caught.value.option == "encryption_key_file" and "missing.key" in str(caught.value)
    with pytest.raises(ConfigurationError):
        load_key(None, None)
    keyfile = tmp_path / "k"
    keyfile.write_text(base64.b64encode(b"z" * 32).decode() + "\n")
    assert load_key(None, str(keyfile)) == b"z" * 32


@pytest.mark.parametrize("name", ["client_secret", "refresh_token"])
def test_blank_credential_option_is_an_error_naming_it(name):
    from ansible_collections.xoauth2.mail.plugins.module_utils._options import settings_from_options
    with pytest.raises(ConfigurationError) as caught:
        settings_from_options({name: "  "}.get)
    assert caught.value.option == name and name in str(caught.value)
