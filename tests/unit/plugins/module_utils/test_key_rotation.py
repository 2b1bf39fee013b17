# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Key rotation in the core: key files with previous keys, re-sealing under the lock, no network."""
from __future__ import annotations

import base64
import json
import os
import time

import pytest

from ansible_collections.xoauth2.mail.plugins.module_utils._crypto import key_id, load_keys
from ansible_collections.xoauth2.mail.plugins.module_utils._errors import ConfigurationError, StorageError
from ansible_collections.xoauth2.mail.plugins.module_utils._options import getter_from_dict, keys_from_options
from ansible_collections.xoauth2.mail.plugins.module_utils._session import TokenSession
from ansible_collections.xoauth2.mail.plugins.module_utils._settings import TokenSettings
from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile
from ansible_collections.xoauth2.mail.plugins.module_utils._token_record import TokenGrant

from token_samples import make_record


def b64(key):
    return base64.b64encode(key).decode()


def no_network(settings, credential):
    raise AssertionError("a re-seal must not ask the identity provider")


class OneRefresh:
    """A provider that answers one refresh."""

    calls = 0

    class session:  # noqa: N801 - the attribute the session sets its timeout on
        timeout = None

    def refresh(self, refresh_token):
        OneRefresh.calls += 1
        return TokenGrant(access_token="at-new", expires_in=3600, requested_at=time.time(), refresh_token="rt-new")


def session_for(token_file, factory=no_network, **kwargs):
    settings = TokenSettings(provider="oidc", authority="https://idp.test/idp", client_id="app",
                             flow="refresh_token", scopes=["mail.send"], username="alice@example.test",
                             timeout=5, retries=0)
    return TokenSession(settings, token_file, provider_factory=factory, **kwargs)


@pytest.fixture
def old_key():
    return os.urandom(32)


@pytest.fixture
def old_file(token_path, old_key):
    """A valid token sealed with the old key, with a .bak from an earlier write under the old key."""
    sealed = TokenFile(token_path, old_key)
    sealed.replace(make_record(now=time.time(), access_token="at-0", refresh_token="rt-0"))
    sealed.replace(make_record(now=time.time(), access_token="at-1", refresh_token="rt-1"))
    return token_path


def envelope(path):
    with open(path) as handle:
        return json.load(handle)


# -- key files and options -------------------------------------------------------------------------------------

def test_key_file_lists_current_then_previous_keys(tmp_path, key, old_key):
    path = tmp_path / "token.key"
    path.write_text("# rotation of 2026-12\n%s\n\n%s\n" % (b64(key), b64(old_key)))
    assert load_keys(None, str(path)) == (key, [old_key])


def test_a_one_key_file_reads_as_before_even_wrapped(tmp_path, key):
    path = tmp_path / "token.key"
    text = b64(key)
    path.write_text(text[:20] + "\n" + text[20:] + "\n")
    assert load_keys(None, str(path)) == (key, [])


def test_a_bad_previous_line_is_named_and_never_echoed(tmp_path, key):
    path = tmp_path / "token.key"
    path.write_text("%s\nnot-a-key-at-all\n" % b64(key))
    with pytest.raises(ConfigurationError) as error:
        load_keys(None, str(path))
    assert "line 2" in str(error.value) and "not-a-key-at-all" not in str(error.value)
    assert b64(key) not in str(error.value)


def test_previous_encryption_keys_option(key, old_key):
    get = getter_from_dict(dict(encryption_key=b64(key), previous_encryption_keys=[b64(old_key), b64(key)]))
    assert keys_from_options(get) == (key, [old_key])
    with pytest.raises(ConfigurationError) as error:
        keys_from_options(getter_from_dict(dict(encryption_key=b64(key), previous_encryption_keys=["", b64(old_key)])))
    assert "previous_encryption_keys[0]" in str(error.value)


# -- reading -----------------------------------------------------------------------------------------------------

def test_a_previous_key_opens_the_file_and_is_reported(old_file, key, old_key):
    token_file = TokenFile(old_file, key, previous_keys=[old_key])
    record = token_file.read()
    assert record.access_token == "at-1"
    assert token_file.previous_key_id(record) == key_id(old_key)


def test_a_file_of_neither_key_keeps_the_different_key_error(old_file, key):
    before = open(old_file, "rb").read()
    token_file = TokenFile(old_file, key, previous_keys=[os.urandom(32)])
    with pytest.raises(StorageError) as error:
        session_for(token_file).ensure_valid(600)
    assert "different key" in str(error.value) and key_id(key) in str(error.value)
    assert open(old_file, "rb").read() == before


# -- re-sealing --------------------------------------------------------------------------------------------------

def test_rekey_reseals_with_the_current_key_without_network(old_file, key, old_key):
    generation = envelope(old_file)["meta"]["generation"]
    outcome = session_for(TokenFile(old_file, key, previous_keys=[old_key])).ensure_valid(600)
    assert outcome.action == "rekeyed" and outcome.changed
    assert key_id(old_key) in outcome.reason and key_id(key) in outcome.reason
    assert envelope(old_file)["key_id"] == key_id(key)
    assert envelope(old_file)["meta"]["generation"] == generation + 1
    # Readable with the current key alone, same tokens.
    record = TokenFile(old_file, key).read()
    assert (record.access_token, record.refresh_token) == ("at-1", "rt-1")
    # No copy that only the retired key opens stays behind.
    assert envelope(old_file + ".bak")["key_id"] == key_id(key)
    assert TokenFile(old_file + ".bak", key).read().refresh_token == "rt-1"
    # Done once: the next run keeps the file.
    assert session_for(TokenFile(old_file, key, previous_keys=[old_key])).ensure_valid(600).action == "none"


def test_rekey_in_check_mode_reports_and_writes_nothing(old_file, key, old_key):
    before = open(old_file, "rb").read()
    backup = open(old_file + ".bak", "rb").read()
    outcome = session_for(TokenFile(old_file, key, previous_keys=[old_key])).ensure_valid(600, check_mode=True)
    assert outcome.action == "rekeyed" and outcome.changed
    assert open(old_file, "rb").read() == before and open(old_file + ".bak", "rb").read() == backup
    assert not os.path.exists(old_file + ".lock")


def test_a_renewal_due_anyway_writes_the_current_key(old_file, key, old_key):
    OneRefresh.calls = 0
    session = session_for(TokenFile(old_file, key, previous_keys=[old_key]), factory=lambda s, c: OneRefresh())
    outcome = session.ensure_valid(3700)
    assert outcome.action == "refreshed" and OneRefresh.calls == 1
    assert "previous key %s" % key_id(old_key) in outcome.reason
    assert envelope(old_file)["key_id"] == key_id(key) == envelope(old_file + ".bak")["key_id"]
    assert TokenFile(old_file, key).read().refresh_token == "rt-new"


def test_without_rekey_a_reader_leaves_the_file_on_its_key(old_file, key, old_key):
    before = open(old_file, "rb").read()
    outcome = session_for(TokenFile(old_file, key, previous_keys=[old_key]), rekey=False).ensure_valid(600)
    assert outcome.action == "none" and outcome.record.access_token == "at-1"
    assert open(old_file, "rb").read() == before


def test_a_rekey_done_by_another_process_while_waiting_is_not_repeated(old_file, key, old_key):
    token_file = TokenFile(old_file, key, previous_keys=[old_key])
    session = session_for(token_file)
    take_lock = token_file.lock

    def lock_after_the_other_process(timeout):
        other = session_for(TokenFile(old_file, key, previous_keys=[old_key]))
        assert other.ensure_valid(600).action == "rekeyed"
        return take_lock(timeout)

    token_file.lock = lock_after_the_other_process
    generation = envelope(old_file)["meta"]["generation"]
    outcome = session.ensure_valid(600)
    assert outcome.action == "none"
    assert envelope(old_file)["meta"]["generation"] == generation + 1
