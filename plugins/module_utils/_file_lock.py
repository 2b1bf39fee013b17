# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A cross-process lock on a sidecar file (flock), with a bounded wait.

flock locks belong to an open file description, so two opens in one process
exclude each other too: threads of the relay helper are covered as well.
The lock file is never deleted while in use (deleting it would let a second
process lock a different inode). It is opened like every file beside a
token (``_side_files``): never through a link, and given its owner only
when this process creates it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from typing import Callable, Optional

from ._errors import StorageError
from ._side_files import Folder


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
        on_acquire: Optional[Callable[[], None]] = None,
    ) -> None:
        self.path = path
        self.timeout = timeout
        self.mode = mode
        self.poll = poll
        self.uid = uid
        self.gid = gid
        # Work that needs the lock held, done each time it is taken (removing stale temp files).
        self.on_acquire = on_acquire
        self._fd: Optional[int] = None

    def acquire(self) -> None:
        # The service user that renews the token later must be able to lock it too: a new lock file gets
        # the token's owner; an existing one is used only if it passes the side-file checks.
        with Folder.of(self.path, owner=self.uid) as folder:
            fd = folder.open_or_create(os.path.basename(self.path), "lock file", self.mode, self.uid, self.gid)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
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
        self._fd = fd
        self._held()

    def _held(self) -> None:
        if self.on_acquire is not None:
            try:
                self.on_acquire()
            except (OSError, StorageError):
                pass  # housekeeping only; the lock is what was asked for

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
