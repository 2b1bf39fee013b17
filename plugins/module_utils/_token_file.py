# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The encrypted token file: format, reading, atomic replacement, lock and removal.

Format (JSON, version 1)::

    {"format": "xoauth2.mail/token", "version": 1, "key_id": "...",
     "meta": {...readable, authenticated...},
     "nonce": "<base64>", "ciphertext": "<base64 AES-256-GCM of the secrets>"}

The associated data of the AES-GCM seal is the canonical JSON of everything
but nonce and ciphertext, so editing the metadata is detected too.

The file and its side files are opened only through ``_side_files``: no
link is followed, and a file that is not a regular file with one link and
a trusted owner is refused.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import Any, Callable, Dict, Optional, Sequence

from ._atomic_write import write_atomic
from ._crypto import key_id, seal, unseal
from ._errors import StorageError
from ._file_lock import FileLock
from ._side_files import Folder, read_file
from ._token_record import TokenRecord

FORMAT = "xoauth2.mail/token"
VERSION = 1
# .device is the pending device sign-in (_device_flow.PENDING_SUFFIX), .signin the pending browser sign-in
# (_auth_code_flow.SIGNIN_SUFFIX).
SIDE_FILES = (".bak", ".status", ".lock", ".device", ".signin")


def _canonical(data: Dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8")


class TokenFile:
    """One token file and its side files (``.bak``, ``.status``, ``.lock``, ``.device``)."""

    def __init__(
        self,
        path: str,
        key: Optional[bytes],
        mode: int = 0o600,
        uid: Optional[int] = None,
        gid: Optional[int] = None,
        previous_keys: Sequence[bytes] = (),
    ) -> None:
        self.path = os.path.abspath(os.path.expanduser(path))
        self.key = key
        # Keys of a rotation in progress: they open older files; writes always use ``key``.
        self.previous_keys = [k for k in previous_keys if k != key]
        # The last record opened with a previous key, and that key's id (see previous_key_id).
        self._old_key_record: Optional[TokenRecord] = None
        self._old_key_id: Optional[str] = None
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self._cache_stamp = None
        self._cache_record: Optional[TokenRecord] = None

    @property
    def backup_path(self) -> str:
        return self.path + ".bak"

    @property
    def lock_path(self) -> str:
        return self.path + ".lock"

    @property
    def status_path(self) -> str:
        return self.path + ".status"

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    def exists(self) -> bool:
        return os.path.exists(self.path)

    def _stamp(self):
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError("Cannot read token file %s: %s" % (self.path, exc.strerror))
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def read_envelope(self) -> Optional[Dict[str, Any]]:
        """The parsed file without decrypting it, or None when there is no file."""
        raw = read_file(self.path, "token file", owner=self.uid)
        if raw is None:
            return None
        try:
            envelope = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise StorageError(
                "%s is not an xoauth2.mail token file or is damaged (not JSON). It was left as it is." % self.path)
        if not isinstance(envelope, dict) or envelope.get("format") != FORMAT:
            raise StorageError("%s is not an xoauth2.mail token file. It was left as it is." % self.path)
        if envelope.get("version") != VERSION:
            raise StorageError(
                "%s has token file format version %r; this collection reads version %d. "
                "Use a newer xoauth2.mail." % (self.path, envelope.get("version"), VERSION))
        if not isinstance(envelope.get("meta"), dict):
            raise StorageError("%s is damaged: its metadata is missing. It was left as it is." % self.path)
        return envelope

    def read(self) -> Optional[TokenRecord]:
        """Decrypt and verify the file; None when absent. Cached while the file is unchanged."""
        stamp = self._stamp()
        if stamp is None:
            self._cache_stamp, self._cache_record = None, None
            return None
        if stamp == self._cache_stamp and self._cache_record is not None:
            return self._cache_record
        envelope = self.read_envelope()
        if envelope is None:
            return None
        record = self._decrypt(envelope)
        self._cache_stamp, self._cache_record = stamp, record
        return record

    def _require_key(self) -> bytes:
        if self.key is None:
            raise StorageError("No encryption key was given for %s." % self.path)
        return self.key

    def _key_for(self, envelope: Dict[str, Any]) -> bytes:
        """The current or previous key whose id the file names; else the 'different key' error."""
        key = self._require_key()
        for candidate in [key] + self.previous_keys:
            if envelope.get("key_id") == key_id(candidate):
                return candidate
        previous = ""
        if self.previous_keys:
            previous = "; the previous keys given have ids %s" % ", ".join(key_id(k) for k in self.previous_keys)
        raise StorageError(
            "Token file %s was encrypted with a different key (key id %s; the given key has id %s%s). "
            "Check encryption_key or encryption_key_file. The file was left as it is."
            % (self.path, envelope.get("key_id"), key_id(key), previous))

    def previous_key_id(self, record: Optional[TokenRecord]) -> Optional[str]:
        """The id of the previous key ``record`` was sealed with, or None when it is on the current key.

        Only records this object read are known; a record it wrote is on the current key.
        """
        if record is not None and record is self._old_key_record:
            return self._old_key_id
        return None

    def _decrypt(self, envelope: Dict[str, Any]) -> TokenRecord:
        key = self._key_for(envelope)
        try:
            nonce = base64.b64decode(envelope["nonce"], validate=True)
            ciphertext = base64.b64decode(envelope["ciphertext"], validate=True)
        except (KeyError, TypeError, binascii.Error, ValueError):
            raise StorageError("%s is damaged: its sealed part is not readable. It was left as it is." % self.path)
        plaintext = unseal(key, nonce, ciphertext, self._associated(envelope), self.path)
        secrets = json.loads(plaintext.decode("utf-8"))
        record = TokenRecord(meta=dict(envelope["meta"]), secrets=secrets)
        old = key != self.key
        self._old_key_record, self._old_key_id = (record, key_id(key)) if old else (None, None)
        return record

    @staticmethod
    def _associated(envelope: Dict[str, Any]) -> bytes:
        return _canonical({name: envelope.get(name) for name in ("format", "version", "key_id", "meta")})

    def encode(self, record: TokenRecord) -> bytes:
        key = self._require_key()
        envelope: Dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "key_id": key_id(key),
            "meta": record.meta,
        }
        nonce, ciphertext = seal(key, _canonical(record.secrets), self._associated(envelope))
        envelope["nonce"] = base64.b64encode(nonce).decode("ascii")
        envelope["ciphertext"] = base64.b64encode(ciphertext).decode("ascii")
        return (json.dumps(envelope, indent=2, sort_keys=True) + "\n").encode("utf-8")

    def replace(self, record: TokenRecord) -> None:
        """Write ``record`` atomically, keeping the version it replaces as ``.bak``."""
        write_atomic(self.path, self.encode(record), self.mode, self.uid, self.gid, backup_path=self.backup_path,
                     what="token file")
        self._cache_stamp, self._cache_record = self._stamp(), record

    def lock(self, timeout: float) -> FileLock:
        return FileLock(self.lock_path, timeout, self.mode, uid=self.uid, gid=self.gid,
                        on_acquire=self.remove_stale_temps)

    def _folder(self) -> Folder:
        return Folder.of(self.path, owner=self.uid)

    def _names(self):
        return [self.name] + [self.name + suffix for suffix in SIDE_FILES]

    def remove_stale_temps(self) -> None:
        """Remove temp files of writers that died mid-write (called with the lock held)."""
        with self._folder() as folder:
            for temp in folder.temp_names(self._names(), only_dead=True):
                folder.unlink(temp)

    def remove(self) -> bool:
        """Delete the token file, its side files and any temp files of them; True if anything was there."""
        if not os.path.isdir(os.path.dirname(self.path)):
            return False
        removed = False
        with self._folder() as folder:
            for name in self._names() + folder.temp_names(self._names(), only_dead=False):
                removed = folder.unlink(name) or removed
        self._cache_stamp, self._cache_record = None, None
        return removed

    def existing_files(self, temps: bool = False):
        """Paths of the token file and side files that are there (and of temp files, with ``temps``)."""
        if not os.path.isdir(os.path.dirname(self.path)):
            return []
        with self._folder() as folder:
            names = [name for name in self._names() if folder.exists(name)]
            if temps:
                names += folder.temp_names(self._names(), only_dead=False)
            return [folder.full(name) for name in names]

    def apply_attributes(self, apply: Callable[[str], bool]) -> bool:
        """``apply(path)`` on the token file and each side file that is there; True when one changed.

        ``apply`` sets attributes by path (the module's file arguments); each file is checked first and the
        call is made as the folder's owner (``Folder.apply_by_path``).
        """
        changed = False
        with self._folder() as folder:
            for name in self._names():
                what = "token file" if name == self.name else "side file"
                changed = folder.apply_by_path(name, what, apply) or changed
        return changed
