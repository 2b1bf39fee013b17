# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bad service account keys and settings: an error naming the option, no request, no file, no key in the text."""
from __future__ import annotations

import json
import os

import pytest
from google_support import key_body, key_document, new_rsa_key

from ansible_collections.xoauth2.mail.plugins.module_utils._errors import ConfigurationError
from ansible_collections.xoauth2.mail.plugins.module_utils._service_account_key import read_service_account_key
from ansible_collections.xoauth2.mail.plugins.module_utils._session import TokenSession
from ansible_collections.xoauth2.mail.plugins.module_utils._settings import TokenSettings


@pytest.fixture(scope="module")
def document():
    return key_document(new_rsa_key())


def without(document, name):
    return {key: value for key, value in document.items() if key != name}


def broken_private_key(document):
    pem = document["private_key"].splitlines()
    return dict(document, private_key="\n".join(pem[:3] + pem[5:]))  # two lines of the body gone


def encrypted_or_ec_key(document):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return dict(document, private_key=pem)


BAD_KEYS = {
    "user credentials": (lambda d: {"type": "authorized_user", "client_id": "x.apps.googleusercontent.com",
                                    "client_secret": "GOCSPX-x", "refresh_token": "1//x"}, "authorized_user"),
    "OAuth client file": (lambda d: {"installed": {"client_id": "x", "client_secret": "y"}}, "OAuth client file"),
    "no type": (lambda d: without(d, "type"), "not a service account key"),
    "no private_key_id": (lambda d: without(d, "private_key_id"), "private_key_id"),
    "no client_email": (lambda d: without(d, "client_email"), "client_email"),
    "no token_uri": (lambda d: without(d, "token_uri"), "token_uri"),
    "empty private_key": (lambda d: dict(d, private_key=""), "private_key"),
    "private key does not load": (broken_private_key, "does not load"),
    "not an RSA key": (encrypted_or_ec_key, "RSA"),
    "not JSON": (lambda d: d["private_key"], "not a JSON object"),
    "a JSON list": (lambda d: [d], "not a JSON object"),
}


@pytest.mark.parametrize("case", sorted(BAD_KEYS))
@pytest.mark.parametrize("as_file", [True, False])
def test_bad_key_is_refused_before_anything_happens(tmp_path, document, case, as_file):
    make, words = BAD_KEYS[case]
    content = make(document)
    text = content if isinstance(content, str) else json.dumps(content)
    values = dict(provider="google", flow="service_account", username="alerts@example.com")
    if as_file:
        path = tmp_path / "key.json"
        path.write_text(text)
        values["service_account_key_file"] = str(path)
    else:
        values["service_account_key"] = text
    option = "service_account_key_file" if as_file else "service_account_key"
    folder = tmp_path / "tokens"
    folder.mkdir()
    from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile
    token_file = TokenFile(str(folder / "alerts.token"), os.urandom(32))

    def no_provider(settings, credential):
        raise AssertionError("no request may be made")

    with pytest.raises(ConfigurationError) as caught:
        TokenSession(TokenSettings(**values), token_file, provider_factory=no_provider).ensure_valid(600)
    error = caught.value
    assert error.option == option
    assert words in str(error)
    assert key_body(document)[:32] not in str(error) and "PRIVATE KEY" not in str(error)
    assert os.listdir(str(folder)) == []  # no token file, no lock, no status


def test_missing_key_file_names_the_option(tmp_path):
    with pytest.raises(ConfigurationError) as caught:
        read_service_account_key(None, str(tmp_path / "absent.json"))
    assert caught.value.option == "service_account_key_file" and "cannot be read" in str(caught.value)


def test_key_is_not_shown_in_repr(document):
    key = read_service_account_key(json.dumps(document), None)
    assert key_body(document)[:32] not in repr(key)
    settings = TokenSettings(provider="google", service_account_key=json.dumps(document), username="a@example.com")
    assert key_body(document)[:32] not in repr(settings) and key_body(document)[:32] not in repr(settings.resolved())


@pytest.mark.parametrize("values, option, words", [
    (dict(flow="service_account"), "username", "username"),
    (dict(flow="service_account", username="a@example.com", client_secret="s"), "client_secret", "client_secret"),
    (dict(client_id="mail-relay@elsewhere.iam.gserviceaccount.com", username="a@example.com"), "client_id",
     "not the service account"),
])
def test_service_account_settings_errors(document, values, option, words):
    settings = TokenSettings(provider="google", service_account_key=json.dumps(document), **values)
    with pytest.raises(ConfigurationError) as caught:
        settings.resolved()
    assert caught.value.option == option and words in str(caught.value)


def test_both_key_options_are_refused(document, tmp_path):
    with pytest.raises(ConfigurationError) as caught:
        TokenSettings(provider="google", service_account_key=json.dumps(document),
                      service_account_key_file=str(tmp_path / "k.json"), username="a@example.com").resolved()
    assert caught.value.option == "service_account_key"
