# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller cache folder of the oauth_token lookup."""
from __future__ import annotations

import multiprocessing
import os
import stat

import pytest

from ansible_collections.xoauth2.mail.plugins.module_utils._errors import StorageError
from ansible_collections.xoauth2.mail.plugins.plugin_utils._controller_cache import (
    cache_file_name, cache_key, ensure_cache_dir)


def test_folder_is_created_private_and_tightened(tmp_path):
    folder = ensure_cache_dir(str(tmp_path / "a" / "cache"))
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    os.chmod(folder, 0o755)
    ensure_cache_dir(folder)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700


def test_folder_that_cannot_be_made_is_a_storage_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError):
        ensure_cache_dir(str(blocker / "cache"))


def test_key_is_made_once_and_private(tmp_path):
    folder = ensure_cache_dir(str(tmp_path / "c"))
    first = cache_key(folder)
    assert len(first) == 32 and cache_key(folder) == first
    assert stat.S_IMODE(os.stat(os.path.join(folder, "cache.key")).st_mode) == 0o600


def _racer(folder, queue):
    queue.put(cache_key(folder))


def test_forks_racing_for_the_key_agree(tmp_path):
    folder = ensure_cache_dir(str(tmp_path / "race"))
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    workers = [context.Process(target=_racer, args=(folder, queue)) for dummy in range(12)]
    for worker in workers:
        worker.start()
    keys = {queue.get(timeout=20) for dummy in workers}
    for worker in workers:
        worker.join(20)
    assert len(keys) == 1
    assert [name for name in os.listdir(folder) if name.endswith(".tmp")] == []


def test_cache_names_differ_by_settings_and_key_and_hide_them():
    key_a, key_b = os.urandom(32), os.urandom(32)
    identity = {"provider": "oidc", "client_id": "app", "scopes": ["a"], "username": "u@x"}
    name = cache_file_name(identity, key_a)
    assert name == cache_file_name(dict(identity), key_a)
    assert name != cache_file_name(dict(identity, scopes=["b"]), key_a)
    assert name != cache_file_name(identity, key_b)
    assert "app" not in name and "u@x" not in name
