# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller's token cache folder (lookup without terms).

Controller-only: the folder, its private key and the name of a cached token
file. The token files themselves are ordinary core token files, so reading,
locking and refreshing are the core's.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import os
import stat
from typing import Any, Dict

from ansible_collections.xoauth2.mail.plugins.module_utils._crypto import KEY_BYTES, decode_key, key_id
from ansible_collections.xoauth2.mail.plugins.module_utils._errors import StorageError

DEFAULT_CACHE_DIR = "~/.cache/xoauth2.mail"
KEY_NAME = "cache.key"


def ensure_cache_dir(path: str) -> str:
    """Create the folder (0700) or tighten one of ours; refuse one another user owns."""
    folder = os.path.abspath(os.path.expanduser(path or DEFAULT_CACHE_DIR))
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.stat(folder)
    except OSError as exc:
        raise StorageError("Cannot create the token cache folder %s: %s" % (folder, exc.strerror))
    if info.st_uid != os.getuid():
        raise StorageError(
            "The token cache folder %s belongs to another user (uid %d); set cache_dir to a folder of yours."
            % (folder, info.st_uid))
    if stat.S_IMODE(info.st_mode) & 0o077:
        try:
            os.chmod(folder, 0o700)
        except OSError as exc:
            raise StorageError("Cannot make %s private (0700): %s" % (folder, exc.strerror))
    return folder


def cache_key(folder: str) -> bytes:
    """The folder's own random key, made on first use (0600), for when no key option is given."""
    path = os.path.join(folder, KEY_NAME)
    if not os.path.exists(path):
        text = base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii") + "\n"
        temporary = "%s.%d.%s.tmp" % (path, os.getpid(), os.urandom(4).hex())
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, text.encode("ascii"))
                os.fsync(fd)
            finally:
                os.close(fd)
            # link() publishes the complete file or fails: of forks racing here, one key wins.
            os.link(temporary, path)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise StorageError("Cannot create the cache key %s: %s" % (path, exc.strerror))
        finally:
            try:
                os.unlink(temporary)
            except OSError:
                pass
    try:
        with open(path, "r") as handle:
            stored = handle.read()
    except OSError as exc:
        raise StorageError("Cannot read the cache key %s: %s" % (path, exc.strerror))
    return decode_key(stored, "the cache key %s" % path)


def cache_file_name(identity: Dict[str, Any], key: bytes) -> str:
    """A stable name for the token of these settings under this key (no secret in it)."""
    material = json.dumps({"identity": identity, "key_id": key_id(key)}, sort_keys=True)
    return "token-%s.json" % hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]
