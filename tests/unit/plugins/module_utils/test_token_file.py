# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.xoauth2.mail.plugins.module_utils._errors import StorageError
from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile

from token_samples import make_record


def test_round_trip_keeps_meta_and_secrets(token_file, record, key, token_path):
    token_file.replace(record)
    fresh = TokenFile(token_path, key).read()
    assert fresh.meta == record.meta
    assert fresh.access_token == "at-1"
    assert fresh.refresh_token == "rt-1"


def test_secrets_are_not_in_the_file_but_meta_is_readable(token_file, record, token_path):
    token_file.replace(record)
    raw = open(token_path).read()
    assert "at-1" not in raw and "rt-1" not in raw
    assert json.loads(raw)["meta"]["username"] == "alice@example.test"


def test_file_mode_is_0600_whatever_the_umask(token_file, record, token_path):
    old = os.umask(0)
    try:
        token_file.replace(record)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(token_path).st_mode) == 0o600


def test_custom_mode_applies_to_file_and_backup(token_path, key, record):
    tf = TokenFile(token_path, key, mode=0o640)
    tf.replace(record)
    tf.replace(make_record(access_token="at-2"))
    assert stat.S_IMODE(os.stat(token_path).st_mode) == 0o640
    assert stat.S_IMODE(os.stat(token_path + ".bak").st_mode) == 0o640


def test_previous_version_is_kept_as_backup(token_file, token_path, key):
    token_file.replace(make_record(access_token="at-1"))
    token_file.replace(make_record(access_token="at-2"))
    assert TokenFile(token_path, key).read().access_token == "at-2"
    assert TokenFile(token_path + ".bak", key).read().access_token == "at-1"


@pytest.mark.parametrize("field, value", [
    ("meta.expires_at", 9_999_999_999),
    ("meta.username", "mallory@example.test"),
    ("ciphertext", None),
    ("nonce", None),
])
def test_any_modification_is_detected_and_file_left_alone(token_file, record, token_path, key, field, value):
    token_file.replace(record)
    data = json.load(open(token_path))
    if field.startswith("meta."):
        data["meta"][field[5:]] = value
    else:  # flip one byte of the base64 payload
        raw = bytearray(__import__("base64").b64decode(data[field]))
        raw[0] ^= 1
        data[field] = __import__("base64").b64encode(bytes(raw)).decode()
    tampered = json.dumps(data).encode()
    open(token_path, "wb").write(tampered)
    with pytest.raises(StorageError) as caught:
        TokenFile(token_path, key).read()
    assert token_path in str(caught.value)
    assert "modified or damaged" in str(caught.value)
    assert open(token_path, "rb").read() == tampered


def test_wrong_key_is_named_as_such(token_file, record, token_path):
    token_file.replace(record)
    before = open(token_path, "rb").read()
    with pytest.raises(StorageError) as caught:
        TokenFile(token_path, os.urandom(32)).read()
    assert "different key" in str(caught.value) and token_path in str(caught.value)
    assert open(token_path, "rb").read() == before


@pytest.mark.parametrize("content, words", [
    (b"\x00\x01garbage", "not JSON"),
    (b'{"format": "something-else"}', "not an xoauth2.mail token file"),
    (b'{"format": "xoauth2.mail/token", "version": 99, "meta": {}}', "version 99"),
])
def test_foreign_or_future_files_are_refused_clearly(token_path, key, content, words):
    open(token_path, "wb").write(content)
    with pytest.raises(StorageError) as caught:
        TokenFile(token_path, key).read()
    assert words in str(caught.value)
    assert open(token_path, "rb").read() == content


def test_missing_file_reads_as_none(token_file):
    assert token_file.read() is None


def test_missing_folder_is_a_storage_error(tmp_path, key, record):
    with pytest.raises(StorageError) as caught:
        TokenFile(str(tmp_path / "nope" / "x.token"), key).replace(record)
    assert "does not exist" in str(caught.value)


def test_remove_deletes_side_files_and_reports(token_file, record, token_path):
    token_file.replace(record)
    token_file.replace(record)
    open(token_path + ".status", "w").write("{}")
    assert token_file.remove() is True
    assert not os.listdir(os.path.dirname(token_path))
    assert token_file.remove() is False


def test_unchanged_file_is_not_decrypted_again(token_file, record, monkeypatch):
    token_file.replace(record)
    first = TokenFile(token_file.path, token_file.key)
    first.read()
    calls = []
    monkeypatch.setattr(first, "_decrypt", lambda envelope: calls.append(1))
    first.read()
    assert calls == []


def test_record_repr_never_shows_secrets(record):
    assert "at-1" not in repr(record) and "rt-1" not in repr(record)
