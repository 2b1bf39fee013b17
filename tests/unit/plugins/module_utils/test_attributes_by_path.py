# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Attributes set by path (the module's file arguments) reach only a checked file beside the token.

``TokenFile.apply_attributes(set_by_path)`` hands each existing token and side file to a setter that
works on a path (Ansible's ``set_fs_attributes_if_different``). A planted link or a second name is
refused before the setter runs, and a file swapped while it runs is reported.
"""
from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.xoauth2.mail.plugins.module_utils._errors import StorageError
from ansible_collections.xoauth2.mail.plugins.module_utils._side_files import Folder
from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile

from token_samples import make_record


@pytest.fixture
def written(tmp_path):
    key = os.urandom(32)
    token_file = TokenFile(str(tmp_path / "relay.token"), key)
    token_file.replace(make_record())
    token_file.replace(make_record())  # and a .bak
    return token_file


@pytest.fixture
def decoy(tmp_path):
    path = tmp_path / "shadow"
    path.write_bytes(b"root-only\n")
    os.chmod(path, 0o600)
    return path


def chmod_setter(mode, seen):
    def set_by_path(path):
        seen.append(path)
        before = stat.S_IMODE(os.lstat(path).st_mode)
        os.chmod(path, mode)
        return before != mode
    return set_by_path


def test_the_setter_gets_each_existing_file_by_its_path(written):
    seen = []
    assert written.apply_attributes(chmod_setter(0o640, seen)) is True
    assert sorted(os.path.basename(path) for path in seen) == ["relay.token", "relay.token.bak"]
    assert all(stat.S_IMODE(os.stat(path).st_mode) == 0o640 for path in seen)
    assert written.apply_attributes(chmod_setter(0o640, [])) is False


@pytest.mark.parametrize("plant, side, refusal", [
    (os.symlink, ".status", "symbolic link"),
    (os.link, ".lock", "hard links"),
], ids=["planted-symbolic-link", "second-hard-link"])
def test_a_planted_file_is_refused_before_the_setter_runs(written, decoy, plant, side, refusal):
    plant(str(decoy), written.path + side)
    seen = []
    with pytest.raises(StorageError, match=refusal):
        written.apply_attributes(chmod_setter(0o644, seen))
    assert written.path + side not in seen and stat.S_IMODE(os.stat(decoy).st_mode) == 0o600


def test_a_file_swapped_while_the_setter_runs_is_reported(written, tmp_path):
    other = tmp_path / "other"
    other.write_bytes(b"x")

    def swap(path):
        os.rename(str(other), path)  # someone replaces the checked file by another one meanwhile
        return False

    with Folder.of(written.path) as folder, pytest.raises(StorageError, match="was replaced"):
        folder.apply_by_path(written.name, "token file", swap)


def test_a_missing_file_is_not_handed_to_the_setter(tmp_path):
    def never(path):
        pytest.fail("called for %s" % path)

    with Folder(str(tmp_path)) as folder:
        assert folder.apply_by_path("absent.token", "token file", never) is False
