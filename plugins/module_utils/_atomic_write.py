# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Crash-safe file replacement: a crash at any point leaves the old or the new file.

The files are opened through ``_side_files.Folder`` (relative to the folder,
no link followed, created exclusively).
"""

from __future__ import annotations

import os
from typing import Optional

from ._errors import StorageError
from ._side_files import Folder


def write_atomic(
    path: str,
    data: bytes,
    mode: int = 0o600,
    uid: Optional[int] = None,
    gid: Optional[int] = None,
    backup_path: Optional[str] = None,
    what: str = "file",
) -> None:
    """Replace ``path`` with ``data``: temp file with the final mode, fsync, rename, fsync folder.

    With ``backup_path`` (in the same folder), the version being replaced is
    first copied there, the same atomic way. A copy, not a hard link: every
    file keeps exactly one link, which is how a planted hard link is told apart.
    """
    path = os.path.abspath(path)
    folder_path, name = os.path.split(path)
    if not os.path.isdir(folder_path):
        raise StorageError("Cannot write %s: the folder %s does not exist." % (path, folder_path))
    with Folder(folder_path, owner=uid) as folder:
        if backup_path:
            backup_folder, backup_name = os.path.split(os.path.abspath(backup_path))
            if backup_folder != folder_path:
                raise StorageError("The backup %s must be in the folder of %s." % (backup_path, path))
            current = folder.read(name, what)
            if current is not None:
                folder.write(backup_name, "backup of the " + what, current, mode, uid, gid, sync_folder=False)
        folder.write(name, what, data, mode, uid, gid)
