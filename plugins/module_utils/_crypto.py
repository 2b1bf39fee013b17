# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""AES-256-GCM sealing of token secrets and loading of the 256-bit key."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from typing import List, Optional, Sequence, Tuple

from ._dependencies import aesgcm_class
from ._errors import ConfigurationError, StorageError

KEY_BYTES = 32
NONCE_BYTES = 12
_KEY_ID_LABEL = b"xoauth2.mail key id v1"


def decode_key(text: str, option: str) -> bytes:
    """Decode base64 key text (as made by ``openssl rand -base64 32``)."""
    cleaned = "".join(text.split())
    if not cleaned:
        raise ConfigurationError("%s is empty." % option, option=option)
    try:
        key = base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(
            "%s is not valid base64 text. Make a key with: openssl rand -base64 32" % option, option=option)
    if len(key) != KEY_BYTES:
        raise ConfigurationError(
            "%s must decode to %d bytes (256 bits), got %d. Make a key with: openssl rand -base64 32"
            % (option, KEY_BYTES, len(key)), option=option)
    return key


def decode_key_file_text(text: str, option: str) -> List[bytes]:
    """The keys of a key file: the current key first, then previous keys (key rotation).

    One base64 key per line; blank lines and lines starting with ``#`` are
    ignored. A file whose whole text is one key (even wrapped over lines, as
    before key rotation existed) reads as that one key.
    """
    try:
        return [decode_key(text, option)]
    except ConfigurationError:
        pass
    lines = [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1)]
    keys = [decode_key(line, "%s line %d" % (option, number))
            for number, line in lines if line and not line.startswith("#")]
    if not keys:
        raise ConfigurationError("%s is empty." % option, option=option)
    return _unique(keys)


def _unique(keys: Sequence[bytes]) -> List[bytes]:
    result: List[bytes] = []
    for key in keys:
        if key not in result:
            result.append(key)
    return result


def read_key_file(key_file: str) -> List[bytes]:
    """The keys in ``encryption_key_file``: current first, then previous ones."""
    path = os.path.expanduser(key_file)
    try:
        with open(path, "r") as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigurationError(
            "encryption_key_file %s cannot be read: %s" % (path, exc.strerror or exc),
            option="encryption_key_file")
    return decode_key_file_text(text, "encryption_key_file (%s)" % path)


def load_keys(key_text: Optional[str], key_file: Optional[str],
              previous_texts: Optional[Sequence[str]] = None) -> Tuple[bytes, List[bytes]]:
    """The current key and the previous keys that may still open older files.

    The current key comes from exactly one of ``encryption_key`` or the first
    key of ``encryption_key_file``; previous keys are the file's other keys
    followed by ``previous_encryption_keys``.
    """
    if key_text and key_file:
        raise ConfigurationError(
            "encryption_key and encryption_key_file are mutually exclusive; give one.", option="encryption_key")
    if key_text:
        keys = [decode_key(key_text, "encryption_key")]
    elif key_file:
        keys = read_key_file(key_file)
    else:
        raise ConfigurationError(
            "One of encryption_key or encryption_key_file is required.", option="encryption_key")
    for index, text in enumerate(previous_texts or ()):
        if not isinstance(text, str):
            raise ConfigurationError(
                "previous_encryption_keys[%d] must be base64 text." % index, option="previous_encryption_keys")
        keys.append(decode_key(text, "previous_encryption_keys[%d]" % index))
    keys = _unique(keys)
    return keys[0], keys[1:]


def load_key(key_text: Optional[str], key_file: Optional[str]) -> bytes:
    """The current key from exactly one of ``encryption_key`` or ``encryption_key_file``."""
    return load_keys(key_text, key_file)[0]


def key_id(key: bytes) -> str:
    """A public identifier of the key, to tell 'wrong key' from 'tampered file'."""
    return hmac.new(key, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]


def seal(key: bytes, plaintext: bytes, associated: bytes) -> Tuple[bytes, bytes]:
    """Encrypt and authenticate; returns (nonce, ciphertext-with-tag)."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce, aesgcm_class()(key).encrypt(nonce, plaintext, associated)


def unseal(key: bytes, nonce: bytes, ciphertext: bytes, associated: bytes, path: str) -> bytes:
    """Decrypt or raise StorageError naming the file; any modification fails here."""
    try:
        return aesgcm_class()(key).decrypt(nonce, ciphertext, associated)
    except Exception:  # cryptography raises InvalidTag; never echo its details
        raise StorageError(
            "Token file %s failed its integrity check: it was modified or damaged. "
            "It was left as it is; the previous version is kept in %s.bak." % (path, path))
