# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import multiprocessing
import os

import pytest

from ansible_collections.xoauth2.mail.plugins.module_utils._errors import StorageError
from ansible_collections.xoauth2.mail.plugins.module_utils._file_lock import FileLock


def _count_under_lock(lock_path, counter_path, rounds):
    for dummy in range(rounds):
        with FileLock(lock_path, timeout=30):
            # a read-modify-write that loses updates without mutual exclusion
            value = int(open(counter_path).read())
            os.sched_yield()
            with open(counter_path, "w") as handle:
                handle.write(str(value + 1))


def test_processes_exclude_each_other(tmp_path):
    lock_path, counter = str(tmp_path / "t.lock"), str(tmp_path / "counter")
    open(counter, "w").write("0")
    workers = [multiprocessing.Process(target=_count_under_lock, args=(lock_path, counter, 50)) for dummy in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert int(open(counter).read()) == 300


def test_two_opens_in_one_process_exclude_each_other_too(tmp_path):
    path = str(tmp_path / "t.lock")
    with FileLock(path, timeout=5):
        with pytest.raises(StorageError) as caught:
            FileLock(path, timeout=0.1).acquire()
    assert "Timed out" in str(caught.value) and path in str(caught.value)


def test_lock_is_released_for_the_next_holder(tmp_path):
    path = str(tmp_path / "t.lock")
    with FileLock(path, timeout=1):
        pass
    with FileLock(path, timeout=0.1):
        pass


@pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")
def test_lock_file_gets_the_token_owner(tmp_path):
    path = str(tmp_path / "t.lock")
    with FileLock(path, timeout=1, uid=65534, gid=65534):
        pass
    assert (os.stat(path).st_uid, os.stat(path).st_gid) == (65534, 65534)
