# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The oauth_token lookup during a key rotation: previous_encryption_keys re-seals a file, no request."""
from __future__ import annotations

import base64
import json
import os
import time

import pytest
from ansible.errors import AnsibleLookupError
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import lookup_loader

from ansible_collections.xoauth2.mail.plugins.module_utils import _providers
from ansible_collections.xoauth2.mail.plugins.module_utils._crypto import key_id
from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile
from ansible_collections.xoauth2.mail.plugins.module_utils._token_record import TokenGrant, TokenRecord

ACCESS = "access-token-rotation-123"


def lookup():
    return lookup_loader.get("xoauth2.mail.oauth_token", loader=DataLoader(), templar=None)


def b64(key):
    return base64.b64encode(key).decode()


@pytest.fixture
def keys():
    return os.urandom(32), os.urandom(32)


@pytest.fixture
def old_token(tmp_path, keys):
    now = time.time()
    record = TokenRecord().with_grant(
        TokenGrant(access_token=ACCESS, expires_in=3600, requested_at=now, refresh_token="refresh-1"), now)
    record.meta.update(provider="oidc", authority="https://idp.invalid/x", client_id="c", flow="refresh_token",
                       scopes=None, username="alice@example.test")
    path = str(tmp_path / "rotating.token")
    TokenFile(path, keys[1]).replace(record)
    return path


@pytest.fixture
def no_provider(monkeypatch):
    def refuse(settings, credential):
        raise AssertionError("a re-seal must not ask the identity provider")
    monkeypatch.setattr(_providers, "create_provider", refuse)


def key_of(path):
    with open(path) as handle:
        return json.load(handle)["key_id"]


def test_previous_key_reseals_the_file_without_a_request(old_token, keys, no_provider):
    current, old = keys
    assert lookup().run([old_token], variables={}, encryption_key=b64(current),
                        previous_encryption_keys=[b64(old)]) == [ACCESS]
    assert key_of(old_token) == key_of(old_token + ".bak") == key_id(current)
    # from now on the current key alone opens it
    assert lookup().run([old_token], variables={}, encryption_key=b64(current)) == [ACCESS]


def test_a_key_file_with_the_old_key_on_its_second_line(old_token, keys, no_provider, tmp_path):
    key_file = tmp_path / "token.key"
    key_file.write_text("%s\n%s\n" % (b64(keys[0]), b64(keys[1])))
    assert lookup().run([old_token], variables={}, encryption_key_file=str(key_file)) == [ACCESS]
    assert key_of(old_token) == key_id(keys[0])


def test_previous_keys_from_a_variable(old_token, keys, no_provider):
    variables = {"xoauth2_mail_previous_encryption_keys": [b64(keys[1])]}
    assert lookup().run([old_token], variables=variables, encryption_key=b64(keys[0])) == [ACCESS]
    assert key_of(old_token) == key_id(keys[0])


def test_without_the_previous_key_the_file_is_refused_and_kept(old_token, keys):
    before = open(old_token, "rb").read()
    with pytest.raises(AnsibleLookupError) as error:
        lookup().run([old_token], variables={}, encryption_key=b64(keys[0]))
    assert "different key" in str(error.value) and b64(keys[0]) not in str(error.value)
    assert open(old_token, "rb").read() == before
