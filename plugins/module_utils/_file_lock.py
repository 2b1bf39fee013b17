# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A cross-process lock on a sidecar file (flock), with a bounded wait.

flock locks belong to an open file description, so two opens in one process
exclude each other too: threads of the relay helper are covered as well.
The lock file is never deleted while in use (deleting it would let a second
process lock a different inode).
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from typing import Optional

from ._errors import StorageError


class FileLock:
    """Exclusive lock held while a token is read, refreshed and written."""

    def __init__(
        self,
        path: str,
        timeout: float,
        mode: int = 0o600,
        poll: float = 0.05,
        uid: Optional[int] = None,
        gid: Optional[int] = None,
    ) -> None:
        self.path = path
        self.timeout = timeout
        self.mode = mode
        self.poll = poll
        self.uid = uid
        self.gid = gid
        self._fd: Optional[int] = None

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, self.mode)
        except OSError as exc:
            raise StorageError("Cannot open lock file %s: %s" % (self.path, exc.strerror))
        if self.uid is not None or self.gid is not None:
            try:
                # The service user that renews the token later must be able to lock it too.
                os.fchown(fd, -1 if self.uid is None else self.uid, -1 if self.gid is None else self.gid)
            except OSError:
                pass  # not root: the file is ours already
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._fd = fd
                return
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise StorageError("Cannot lock %s: %s" % (self.path, exc.strerror))
            if time.monotonic() >= deadline:
                os.close(fd)
                raise StorageError(
                    "Timed out after %.0f s waiting for the lock %s held by another process."
                    % (self.timeout, self.path))
            time.sleep(self.poll)

    def release(self) -> None:
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> "FileLock":
        self.acquire()
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()
