# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Files beside a token are never followed, never taken over, never handed away.

Each attack plants something where a side file will be (a symbolic link, a
hard link, a FIFO, a file of another user) and checks that the planted
target keeps its owner, mode and content, and that the error names the file.
"""
from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
import textwrap

import pytest

from ansible_collections.xoauth2.mail.plugins.module_utils._device_flow import PendingStore
from ansible_collections.xoauth2.mail.plugins.module_utils._errors import StorageError
from ansible_collections.xoauth2.mail.plugins.module_utils._file_lock import FileLock
from ansible_collections.xoauth2.mail.plugins.module_utils._status_file import read_status
from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile

from token_samples import make_record

NOBODY = 65534
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving files to another user needs root")


@pytest.fixture
def decoy(tmp_path):
    """A root-only file outside the token's folder that an attacker would like to get."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    path = folder / "shadow"
    path.write_bytes(b'{"refreshes": 7, "secret_marker": "root-only-content"}\n')
    os.chmod(path, 0o600)
    return path


def snapshot(path):
    st = os.stat(path)
    return (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), st.st_nlink, open(path, "rb").read())


def token_folder(tmp_path):
    folder = tmp_path / "tokens"
    folder.mkdir(exist_ok=True)
    return folder


# -- the lock --------------------------------------------------------------------------------------------------


@as_root
def test_a_lock_link_does_not_hand_its_target_away(tmp_path, key, decoy):
    token = token_folder(tmp_path) / "alerts.token"
    before = snapshot(decoy)
    os.symlink(str(decoy), str(token) + ".lock")
    with pytest.raises(StorageError) as caught:
        with TokenFile(str(token), key, uid=NOBODY, gid=NOBODY).lock(1):
            pass
    assert snapshot(decoy) == before
    assert "alerts.token.lock" in str(caught.value) and "symbolic link" in str(caught.value)


@as_root
def test_a_lock_hard_link_does_not_hand_its_target_away(tmp_path, key):
    folder = token_folder(tmp_path)
    victim = folder / "victim"
    victim.write_bytes(b"root data\n")
    os.chmod(victim, 0o600)
    before = snapshot(victim)
    os.link(str(victim), str(folder / "alerts.token.lock"))
    with pytest.raises(StorageError) as caught:
        FileLock(str(folder / "alerts.token.lock"), timeout=1, uid=NOBODY, gid=NOBODY).acquire()
    after = snapshot(victim)
    assert after[:3] == before[:3] and after[4] == before[4]
    assert "alerts.token.lock" in str(caught.value) and "link" in str(caught.value)


@as_root
def test_a_lock_file_of_another_user_is_refused(tmp_path):
    lock = token_folder(tmp_path) / "alerts.token.lock"
    lock.write_bytes(b"")
    os.chown(lock, NOBODY, NOBODY)
    with pytest.raises(StorageError) as caught:
        FileLock(str(lock), timeout=1).acquire()
    assert "alerts.token.lock" in str(caught.value) and "owned by" in str(caught.value)


def test_a_fifo_as_lock_is_refused_without_hanging(tmp_path):
    lock = token_folder(tmp_path) / "alerts.token.lock"
    os.mkfifo(str(lock))
    with pytest.raises(StorageError) as caught:
        FileLock(str(lock), timeout=1).acquire()
    assert "not a regular file" in str(caught.value)


# -- the status file -------------------------------------------------------------------------------------------


def test_a_status_link_is_neither_read_nor_written_through(tmp_path, key, decoy):
    from test_session import ScriptedProvider, make_session
    token = token_folder(tmp_path) / "alerts.token"
    before = snapshot(decoy)
    tf = TokenFile(str(token), key)
    make_session(tf, ScriptedProvider([None])).ensure_valid(600)
    os.unlink(tf.status_path)
    os.symlink(str(decoy), tf.status_path)
    assert read_status(tf.status_path) == {}
    make_session(tf, ScriptedProvider([None])).ensure_valid(600, force=True)
    assert snapshot(decoy) == before
    status = open(tf.status_path).read()
    assert not os.path.islink(tf.status_path)
    assert "secret_marker" not in status and json.loads(status)["refreshes"] == 1


STATUS_READER = textwrap.dedent("""
    import sys
    sys.path[:0] = [p for p in sys.argv[2].split(':') if p]
    from ansible_collections.xoauth2.mail.plugins.module_utils._status_file import read_status
    print(read_status(sys.argv[1]))
""")


def test_a_fifo_as_status_file_does_not_hang_a_reader(tmp_path):
    status = token_folder(tmp_path) / "alerts.token.status"
    os.mkfifo(str(status))
    # The base opened a FIFO for reading and waited for a writer forever: bound it, then fail.
    proc = subprocess.run([sys.executable, "-c", STATUS_READER, str(status), os.pathsep.join(sys.path)],
                          capture_output=True, timeout=30, check=False)
    assert proc.returncode == 0 and proc.stdout.strip() == b"{}", proc.stderr


@pytest.mark.parametrize("content", [
    b'{"refreshes": "n/a", "failures": "x", "consecutive_failures": [1]}',
    b'[1, 2, 3]',
    b'\xff\xfe garbage \x00',
    b'{"refreshes": 1e999, "failures": -4, "consecutive_failures": true}',
])
def test_a_malformed_status_never_fails_a_renewal(tmp_path, key, content):
    from test_session import ScriptedProvider, make_session
    tf = TokenFile(str(token_folder(tmp_path) / "alerts.token"), key)
    make_session(tf, ScriptedProvider([None])).ensure_valid(600)
    with open(tf.status_path, "wb") as handle:
        handle.write(content)
    outcome = make_session(tf, ScriptedProvider([None])).ensure_valid(600, force=True)
    assert outcome.action == "acquired" and tf.read().access_token == "at-1"
    status = json.load(open(tf.status_path))
    assert status["state"] == "valid" and isinstance(status["refreshes"], int) and status["refreshes"] >= 1
    assert isinstance(status["failures"], int) and status["failures"] >= 0


def test_a_malformed_status_never_fails_recording_a_failure(tmp_path, key):
    from ansible_collections.xoauth2.mail.plugins.module_utils._errors import ReauthRequired
    from test_session import ScriptedProvider, make_session
    tf = TokenFile(str(token_folder(tmp_path) / "alerts.token"), key)
    make_session(tf, ScriptedProvider([None])).ensure_valid(600)
    with open(tf.status_path, "w") as handle:
        handle.write('{"consecutive_failures": "many", "failures": {"a": 1}}')
    with pytest.raises(ReauthRequired):  # the provider's error, not a ValueError from the status file
        make_session(tf, ScriptedProvider([ReauthRequired("gone", code="invalid_grant")]),
                     flow="refresh_token").ensure_valid(600, force=True)
    status = json.load(open(tf.status_path))
    assert status["state"] == "needs_reauth" and status["consecutive_failures"] == 1 and status["failures"] == 1


# -- the backup and the temporary files ------------------------------------------------------------------------


def test_backup_without_hard_links_never_writes_through_a_planted_name(tmp_path, key, decoy, monkeypatch):
    token = token_folder(tmp_path) / "alerts.token"
    tf = TokenFile(str(token), key)
    tf.replace(make_record(access_token="at-1"))
    before = snapshot(decoy)
    # The base staged the copy at the predictable <bak>.<pid>.tmp, following a link planted there.
    os.symlink(str(decoy), "%s.bak.%d.tmp" % (token, os.getpid()))

    def no_hard_links(*args, **kwargs):
        raise OSError(errno.EPERM, "Operation not permitted")
    monkeypatch.setattr(os, "link", no_hard_links)
    tf.replace(make_record(access_token="at-2"))
    tf.replace(make_record(access_token="at-3"))
    assert snapshot(decoy) == before
    assert TokenFile(str(token) + ".bak", key).read().access_token == "at-2"
    assert tf.read().access_token == "at-3"


def test_token_and_backup_are_separate_files_with_one_link_each(tmp_path, key):
    token = token_folder(tmp_path) / "alerts.token"
    tf = TokenFile(str(token), key)
    for number in range(3):
        tf.replace(make_record(access_token="at-%d" % number))
    assert os.stat(str(token)).st_nlink == 1 and os.stat(str(token) + ".bak").st_nlink == 1


# -- the token file and the pending device sign-in -------------------------------------------------------------


def test_a_token_link_is_not_followed(tmp_path, key, decoy):
    token = token_folder(tmp_path) / "alerts.token"
    os.symlink(str(decoy), str(token))
    with pytest.raises(StorageError) as caught:
        TokenFile(str(token), key).read()
    assert "alerts.token" in str(caught.value) and "symbolic link" in str(caught.value)


def test_a_device_link_is_not_followed(tmp_path, key, decoy):
    token = token_folder(tmp_path) / "alerts.token"
    os.symlink(str(decoy), str(token) + ".device")
    with pytest.raises(StorageError) as caught:
        PendingStore(str(token), key).load()
    assert "alerts.token.device" in str(caught.value) and "symbolic link" in str(caught.value)


# -- stale temporary files -------------------------------------------------------------------------------------


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temp_files_are_removed_when_the_lock_is_taken(tmp_path, key):
    folder = token_folder(tmp_path)
    token = folder / "alerts.token"
    tf = TokenFile(str(token), key)
    tf.replace(make_record())
    gone = dead_pid()
    stale = [".alerts.token.%d.0badc0de.tmp" % gone, ".alerts.token.bak.%d.12345678.tmp" % gone,
             ".alerts.token.status.%d.abcdef01.tmp" % gone, ".alerts.token.device.%d.00000000.tmp" % gone,
             "alerts.token.bak.%d.tmp" % gone]
    live = ".alerts.token.status.%d.feedf00d.tmp" % os.getpid()  # a writer in this very process
    other = ".other.token.%d.0badc0de.tmp" % gone  # another token's business
    for name in stale + [live, other]:
        (folder / name).write_bytes(b"partial")
    with tf.lock(5):
        pass
    left = sorted(os.listdir(str(folder)))
    assert left == sorted(["alerts.token", "alerts.token.lock", live, other]), left


def test_read_status_gives_well_typed_counters_to_every_reader(tmp_path):
    # xoauth2-relay status does int(side["refreshes"]): a malformed file must not reach it as it is.
    status = token_folder(tmp_path) / "alerts.token.status"
    status.write_text('{"refreshes": "n/a", "failures": 2.5, "consecutive_failures": 3, "state": 7, '
                      '"last_error": "boom", "updated_at": "soon", "note": "kept"}')
    assert read_status(str(status)) == {"refreshes": 0, "failures": 0, "consecutive_failures": 3, "note": "kept"}
