# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Local client secrets: stored hashed, checked per login without key derivation.

A plaintext secret from the configuration is turned, once at load, into an
HMAC under a random per-process key; only that verifier stays in memory.
A ``pbkdf2_sha256$<iterations>$<salt>$<hash>`` from the configuration is
derived once, on the first successful login, and then cached the same way:
only failed logins pay for PBKDF2 (which also slows down guessing).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from typing import Optional

PBKDF2_PREFIX = "pbkdf2_sha256"
PBKDF2_ITERATIONS = 600000
_PROCESS_KEY = os.urandom(32)
_DUMMY_SALT = os.urandom(16)


def _keyed(secret: bytes) -> bytes:
    return hmac.new(_PROCESS_KEY, secret, hashlib.sha256).digest()


def hash_secret(secret: str, iterations: int = PBKDF2_ITERATIONS, salt: Optional[bytes] = None) -> str:
    """The storable form of a local secret (for ``local_secret_hash``)."""
    salt = salt or os.urandom(16)
    derived = hashlib.pbkdf2_hmac("sha256", secret.encode("utf-8"), salt, iterations)
    return "%s$%d$%s$%s" % (PBKDF2_PREFIX, iterations, base64.b64encode(salt).decode("ascii"),
                            base64.b64encode(derived).decode("ascii"))


def parse_hash(text: str):
    """(iterations, salt, derived) or ValueError naming what is wrong (never echoing the text)."""
    parts = text.strip().split("$")
    if len(parts) != 4 or parts[0] != PBKDF2_PREFIX:
        raise ValueError("must look like pbkdf2_sha256$<iterations>$<base64 salt>$<base64 hash> "
                         "(make one with: xoauth2-relay hash-secret)")
    try:
        iterations = int(parts[1])
        salt = base64.b64decode(parts[2], validate=True)
        derived = base64.b64decode(parts[3], validate=True)
    except (ValueError, binascii.Error):
        raise ValueError("has a bad iteration count or base64 part")
    if iterations < 1000 or len(salt) < 8 or len(derived) != 32:
        raise ValueError("needs at least 1000 iterations, an 8-byte salt and a 32-byte SHA-256 hash")
    return iterations, salt, derived


class SecretVerifier:
    """Checks a presented local secret in constant time.

    ``check_fast`` answers whatever one HMAC can decide; only a PBKDF2 hash
    not yet confirmed by a good login needs ``check_slow``, which the relay
    runs in a worker thread (it takes about 150 ms at 600,000 rounds).
    """

    def __init__(self, plaintext: Optional[str] = None, stored_hash: Optional[str] = None) -> None:
        self._verifier: Optional[bytes] = None
        self._pbkdf2 = None
        if plaintext is not None:
            self._verifier = _keyed(plaintext.encode("utf-8"))
        elif stored_hash is not None:
            self._pbkdf2 = parse_hash(stored_hash)
        else:
            raise ValueError("a secret or a hash is required")

    def __repr__(self) -> str:
        return "SecretVerifier(<hidden>)"

    @property
    def iterations(self) -> int:
        """PBKDF2 rounds of the stored hash (0 for a secret given in clear)."""
        return self._pbkdf2[0] if self._pbkdf2 is not None else 0

    def check_fast(self, presented: str) -> Optional[bool]:
        """True/False when one keyed hash decides; None when only PBKDF2 can."""
        if self._verifier is None:
            return None
        return hmac.compare_digest(_keyed(presented.encode("utf-8")), self._verifier)

    def check_slow(self, presented: str) -> bool:
        """The PBKDF2 check (blocking); a match is cached so later logins need one HMAC."""
        candidate = presented.encode("utf-8")
        iterations, salt, derived = self._pbkdf2
        if hmac.compare_digest(hashlib.pbkdf2_hmac("sha256", candidate, salt, iterations), derived):
            self._verifier = _keyed(candidate)
            return True
        return False

    def verify(self, presented: str) -> bool:
        fast = self.check_fast(presented)
        return fast if fast is not None else self.check_slow(presented)


def dummy_check(presented: str, iterations: int) -> bool:
    """The work of a PBKDF2 check for a user that does not exist, so its answer costs the same."""
    if iterations:
        hashlib.pbkdf2_hmac("sha256", presented.encode("utf-8", "surrogateescape"), _DUMMY_SALT, iterations)
    return False


def hash_unless_matching(secret: str, stored_hash: str = "") -> str:
    """``stored_hash`` while it still matches ``secret``, else a new hash.

    Hashes are salted randomly, so hashing again on every run would never settle (a deployment
    tool would report a change each time); a stored hash that is malformed counts as not matching.
    """
    if stored_hash:
        try:
            if SecretVerifier(stored_hash=stored_hash).verify(secret):
                return stored_hash
        except ValueError:
            pass
    return hash_secret(secret)
