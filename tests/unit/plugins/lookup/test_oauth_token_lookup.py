# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The oauth_token lookup in-process, without an identity provider: outputs, caching, errors."""
from __future__ import annotations

import base64
import os
import time

import pytest
from ansible.errors import AnsibleLookupError
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import lookup_loader

from ansible_collections.xoauth2.mail.plugins.module_utils import _token_file
from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile
from ansible_collections.xoauth2.mail.plugins.module_utils._token_record import TokenGrant, TokenRecord

ACCESS = "access-token-value-123"
SECRET = "client-secret-value-456"


def lookup():
    plugin = lookup_loader.get("xoauth2.mail.oauth_token", loader=DataLoader(), templar=None)
    assert plugin is not None, "xoauth2.mail.oauth_token not found"
    return plugin


def write_token(path, key, expires_in=3600, username="alice@example.test"):
    now = time.time()
    record = TokenRecord().with_grant(
        TokenGrant(access_token=ACCESS, expires_in=expires_in, requested_at=now, refresh_token="refresh-789"), now)
    record.meta.update(provider="oidc", authority="https://idp.invalid/x", client_id="c", flow="refresh_token",
                       scopes=None, username=username)
    record.secrets["client_credential"] = {"secret": SECRET}
    TokenFile(path, key).replace(record)
    return path


@pytest.fixture
def token(tmp_path, key):
    return write_token(str(tmp_path / "a.token"), key)


def test_outputs(token, key_text):
    assert lookup().run([token], variables={}, encryption_key=key_text) == [ACCESS]
    assert lookup().run([token], variables={}, encryption_key=key_text, output="bearer") == ["Bearer " + ACCESS]
    [sasl] = lookup().run([token], variables={}, encryption_key=key_text, output="xoauth2")
    assert base64.b64decode(sasl) == ("user=alice@example.test\x01auth=Bearer %s\x01\x01" % ACCESS).encode()
    [other] = lookup().run([token], variables={}, encryption_key=key_text, output="xoauth2", username="bob@x")
    assert base64.b64decode(other).startswith(b"user=bob@x\x01")


def test_options_from_variables(token, key_text, tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text(key_text + "\n")
    variables = {"xoauth2_mail_encryption_key_file": str(key_file)}
    assert lookup().run([token], variables=variables) == [ACCESS]


def test_repeated_lookups_decrypt_once_while_the_file_is_unchanged(token, key, key_text, monkeypatch):
    calls = []
    real = _token_file.TokenFile._decrypt

    def counting(self, envelope):
        calls.append(self.path)
        return real(self, envelope)

    monkeypatch.setattr(_token_file.TokenFile, "_decrypt", counting)
    for dummy in range(50):
        assert lookup().run([token], variables={}, encryption_key=key_text) == [ACCESS]
    assert len(calls) == 1
    # A changed file is read again.
    time.sleep(0.01)
    write_token(token, key)
    assert lookup().run([token], variables={}, encryption_key=key_text) == [ACCESS]
    assert len(calls) == 2


def test_wrong_key_is_a_storage_error_without_secrets(token):
    with pytest.raises(AnsibleLookupError) as caught:
        lookup().run([token], variables={}, encryption_key=base64.b64encode(os.urandom(32)).decode())
    text = str(caught.value)
    assert "error_category=storage" in text and "different key" in text
    assert ACCESS not in text and SECRET not in text


def test_missing_file_and_missing_key(tmp_path, key_text):
    with pytest.raises(AnsibleLookupError) as caught:
        lookup().run([str(tmp_path / "none.token")], variables={}, encryption_key=key_text)
    assert "error_category=storage" in str(caught.value) and "does not exist" in str(caught.value)
    with pytest.raises(AnsibleLookupError) as caught:
        lookup().run([str(tmp_path / "none.token")], variables={})
    assert "error_category=configuration" in str(caught.value) and "encryption_key" in str(caught.value)


def test_xoauth2_without_username_names_the_option(tmp_path, key, key_text):
    path = write_token(str(tmp_path / "nouser.token"), key, username=None)
    with pytest.raises(AnsibleLookupError) as caught:
        lookup().run([path], variables={}, encryption_key=key_text, output="xoauth2")
    assert "username" in str(caught.value)


def test_no_terms_needs_a_client_credential(tmp_path):
    with pytest.raises(AnsibleLookupError) as caught:
        lookup().run([], variables={}, provider="oidc", authority="https://idp.invalid/x", client_id="c",
                     cache_dir=str(tmp_path / "cache"))
    assert "error_category=configuration" in str(caught.value) and "client_secret" in str(caught.value)


def test_expiring_token_with_unreachable_provider_is_temporary_and_file_kept(tmp_path, key, key_text):
    path = write_token(str(tmp_path / "old.token"), key, expires_in=60)
    before = open(path, "rb").read()
    with pytest.raises(AnsibleLookupError) as caught:
        lookup().run([path], variables={}, encryption_key=key_text, timeout=2, retries=0)
    text = str(caught.value)
    assert "error_category=temporary" in text or "error_category=configuration" in text
    assert "refresh-789" not in text and SECRET not in text
    assert open(path, "rb").read() == before
