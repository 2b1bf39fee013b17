# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Crash-safe file replacement: a crash at any point leaves the old or the new file."""

from __future__ import annotations

import errno
import os
import shutil
from typing import Optional

from ._errors import StorageError


def _fsync_dir(folder: str) -> None:
    # The rename is only durable once the folder entry is on disk.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _keep_backup(path: str, backup_path: str, mode: int) -> None:
    """Make ``backup_path`` a copy of the current ``path`` (hard link when possible)."""
    staging = "%s.%d.tmp" % (backup_path, os.getpid())
    try:
        os.link(path, staging)
    except OSError as exc:
        if exc.errno == errno.EEXIST:
            os.unlink(staging)
            os.link(path, staging)
        else:  # file systems without hard links
            shutil.copyfile(path, staging)
            os.chmod(staging, mode)
    os.replace(staging, backup_path)


def write_atomic(
    path: str,
    data: bytes,
    mode: int = 0o600,
    uid: Optional[int] = None,
    gid: Optional[int] = None,
    backup_path: Optional[str] = None,
) -> None:
    """Replace ``path`` with ``data``: temp file with the final mode, fsync, rename, fsync folder.

    With ``backup_path``, the version being replaced is kept there first.
    """
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise StorageError("Cannot write %s: the folder %s does not exist." % (path, folder))
    temp = os.path.join(folder, ".%s.%d.%s.tmp" % (os.path.basename(path), os.getpid(), os.urandom(4).hex()))
    try:
        if backup_path and os.path.exists(path):
            _keep_backup(path, backup_path, mode)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            os.fchmod(fd, mode)  # the umask must not widen or narrow the mode
            if uid is not None or gid is not None:
                os.fchown(fd, -1 if uid is None else uid, -1 if gid is None else gid)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
        _fsync_dir(folder)
    except OSError as exc:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise StorageError("Cannot write %s: %s" % (path, exc.strerror or exc))
