# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Root refuses folders others can write, and works in another user's folder as that user."""
from __future__ import annotations

import os

import pytest

from ansible_collections.xoauth2.mail.plugins.module_utils import _folder_owner
from ansible_collections.xoauth2.mail.plugins.module_utils._errors import ConfigurationError, StorageError
from ansible_collections.xoauth2.mail.plugins.module_utils._folder_owner import (
    FolderOwner, acting_as, prepare_folder)
from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile

from token_samples import make_record

NOBODY = 65534
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch):
    monkeypatch.setattr(_folder_owner, "_CHECKED", {})


@pytest.fixture
def nobody_folder(tmp_path):
    folder = tmp_path / "state"
    folder.mkdir(mode=0o700)
    os.chown(folder, NOBODY, NOBODY)
    return folder


def test_files_in_another_users_folder_are_made_as_that_user_without_chown(nobody_folder, key, monkeypatch):
    token = str(nobody_folder / "alerts.token")
    assert prepare_folder(token, NOBODY, NOBODY) == (None, None)

    def no_chown(*args):
        raise AssertionError("chown called: %r" % (args,))
    monkeypatch.setattr(os, "fchown", no_chown)
    monkeypatch.setattr(os, "chown", no_chown)
    tf = TokenFile(token, key)
    with tf.lock(5):
        tf.replace(make_record(access_token="at-1"))
        tf.replace(make_record(access_token="at-2"))
    assert tf.read().access_token == "at-2"
    for name in os.listdir(str(nobody_folder)):
        st = os.stat(str(nobody_folder / name))
        assert (st.st_uid, st.st_gid) == (NOBODY, NOBODY), name
    assert (os.geteuid(), os.getegid()) == (0, 0)


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o1777, 0o730], ids=["0777", "0775", "1777", "0730"])
def test_a_folder_others_can_write_is_refused_naming_path(tmp_path, mode):
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, mode)
    with pytest.raises(ConfigurationError) as caught:
        prepare_folder(str(folder / "alerts.token"), None, None)
    assert caught.value.option == "path" and str(folder) in str(caught.value)


def test_a_root_folder_is_used_as_root_with_the_options_as_given(tmp_path):
    assert prepare_folder(str(tmp_path / "alerts.token"), NOBODY, NOBODY) == (NOBODY, NOBODY)


def test_an_owner_other_than_the_folders_is_refused_naming_owner(nobody_folder):
    with pytest.raises(ConfigurationError) as caught:
        prepare_folder(str(nobody_folder / "alerts.token"), 0, None)
    assert caught.value.option == "owner" and "nobody" in str(caught.value)


def test_a_group_the_folder_owner_is_not_in_is_refused_naming_group(nobody_folder):
    with pytest.raises(ConfigurationError) as caught:
        prepare_folder(str(nobody_folder / "alerts.token"), None, 0)
    assert caught.value.option == "group"


def test_acting_as_restores_root_even_when_the_block_fails():
    groups = os.getgroups()
    with pytest.raises(RuntimeError):
        with acting_as(FolderOwner(NOBODY, NOBODY, (NOBODY,), "nobody")):
            assert (os.geteuid(), os.getegid(), os.getgroups()) == (NOBODY, NOBODY, [NOBODY])
            with acting_as(FolderOwner(1, 1, (1,), "daemon")):  # nested: stays as it is
                assert os.geteuid() == NOBODY
            raise RuntimeError("boom")
    assert (os.geteuid(), os.getegid(), os.getgroups()) == (0, 0, groups)
    assert os.getuid() == 0  # the real uid never changed


def test_a_folder_replaced_after_the_check_is_not_used(nobody_folder, tmp_path, key):
    token = str(nobody_folder / "alerts.token")
    prepare_folder(token, None, None)
    os.rename(str(nobody_folder), str(tmp_path / "moved"))
    os.mkdir(str(nobody_folder))
    with pytest.raises(StorageError) as caught:
        TokenFile(token, key).replace(make_record())
    assert "replaced" in str(caught.value)
    assert os.listdir(str(nobody_folder)) == []
