# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Device authorization grant (RFC 8628): the pending sign-in and the polling loop.

The sign-in is started and polled on the host that keeps the token, so the
device code and the tokens never leave it. Between the two steps (two module
runs, driven by the action plugin on the controller) the pending
authorization is kept in ``<token path>.device``, sealed with the token
file's key like the token itself. Only the user code and the verification
address, which a person must read anyway, are returned to the controller.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, Optional, Tuple

from ._atomic_write import write_atomic
from ._crypto import key_id, seal, unseal
from ._errors import ReauthRequired, StorageError, TemporaryError
from ._side_files import read_file, remove_file
from ._token_record import TokenGrant

FORMAT = "xoauth2.mail/device"
VERSION = 1
PENDING_SUFFIX = ".device"
DEFAULT_INTERVAL = 5  # RFC 8628 3.2: when the server names none
SLOW_DOWN_STEP = 5  # RFC 8628 3.5
DEFAULT_TIMEOUT = 900

DEVICE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"

GRANTED = "granted"
PENDING = "pending"


class DevicePending(Exception):
    """The person has not finished signing in yet (``authorization_pending`` or ``slow_down``)."""

    def __init__(self, slow_down: bool = False) -> None:
        super().__init__("slow_down" if slow_down else "authorization_pending")
        self.slow_down = slow_down


@dataclass
class DeviceAuthorization:
    """A started device sign-in. ``device_code`` and ``extra`` are secret; the rest is shown to a person."""

    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    expires_at: float
    interval: float = DEFAULT_INTERVAL
    verification_uri_complete: Optional[str] = None
    message: Optional[str] = None
    started_at: float = 0.0
    timeout: float = DEFAULT_TIMEOUT
    last_poll_at: float = 0.0
    identity: Dict[str, Any] = field(default_factory=dict)
    # Provider-specific state (msal's flow dict), sealed with the rest.
    extra: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_response(cls, body: Dict[str, Any], now: float) -> "DeviceAuthorization":
        """From an RFC 8628 device authorization response (also Microsoft's, which says verification_url)."""
        try:
            expires_in = float(body.get("expires_in") or 1800)
        except (TypeError, ValueError):
            expires_in = 1800.0
        try:
            interval = float(body.get("interval") or DEFAULT_INTERVAL)
        except (TypeError, ValueError):
            interval = float(DEFAULT_INTERVAL)
        return cls(
            device_code=str(body["device_code"]),
            user_code=str(body["user_code"]),
            verification_uri=str(body.get("verification_uri") or body.get("verification_url") or ""),
            verification_uri_complete=body.get("verification_uri_complete"),
            message=body.get("message"),
            expires_at=now + expires_in,
            interval=max(1.0, interval),
            started_at=now,
            # The authorization request counts as the first contact: the first poll waits one interval.
            last_poll_at=now,
        )

    @property
    def deadline(self) -> float:
        """When waiting ends: the code expires, or ``device_code_timeout`` has passed."""
        return min(self.expires_at, self.started_at + self.timeout)

    def prompt(self) -> Dict[str, Any]:
        """What the controller shows: never the device code."""
        return {
            "verification_uri": self.verification_uri,
            "verification_uri_complete": self.verification_uri_complete,
            "user_code": self.user_code,
            "expires_at": int(self.expires_at),
            "expires_in": max(0, int(self.expires_at - time.time())),
            "interval": int(self.interval),
            "timeout": int(self.timeout),
            "message": self.message or "To sign in, open %s and enter the code %s." % (
                self.verification_uri, self.user_code),
        }


class PendingStore:
    """``<token path>.device``: the pending authorization, sealed with the token file's key.

    A subclass keeps another pending sign-in (the browser sign-in's ``.signin``) the same way.
    """

    suffix = PENDING_SUFFIX
    format = FORMAT
    record_class: Any = DeviceAuthorization
    what = "pending device sign-in"

    def __init__(self, token_path: str, key: Optional[bytes], mode: int = 0o600,
                 uid: Optional[int] = None, gid: Optional[int] = None) -> None:
        self.path = os.path.abspath(os.path.expanduser(token_path)) + self.suffix
        self.key = key
        self.mode = mode
        self.uid = uid
        self.gid = gid

    def _associated(self, key: bytes) -> bytes:
        return json.dumps({"format": self.format, "version": VERSION, "key_id": key_id(key)},
                          sort_keys=True, separators=(",", ":")).encode("utf-8")

    def save(self, authorization: Any) -> None:
        if self.key is None:
            raise StorageError("No encryption key was given for %s." % self.path)
        plaintext = json.dumps(asdict(authorization), sort_keys=True).encode("utf-8")
        nonce, ciphertext = seal(self.key, plaintext, self._associated(self.key))
        envelope = {
            "format": self.format, "version": VERSION, "key_id": key_id(self.key),
            "nonce": base64.b64encode(nonce).decode("ascii"),
            "ciphertext": base64.b64encode(ciphertext).decode("ascii"),
        }
        write_atomic(self.path, (json.dumps(envelope, sort_keys=True) + "\n").encode("utf-8"),
                     self.mode, self.uid, self.gid, what=self.what)

    def load(self) -> Any:
        """The pending authorization, or None when there is none (or it cannot be used any more)."""
        raw = read_file(self.path, self.what, owner=self.uid)
        if raw is None:
            return None
        try:
            envelope = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise StorageError("Cannot read the %s %s: %s" % (self.what, self.path, exc))
        if self.key is None:
            raise StorageError("No encryption key was given for %s." % self.path)
        if not isinstance(envelope, dict) or envelope.get("format") != self.format or envelope.get("version") != VERSION:
            raise StorageError("%s is not a %s of this collection." % (self.path, self.what))
        if envelope.get("key_id") != key_id(self.key):
            raise StorageError(
                "The %s %s was sealed with a different key. Check encryption_key." % (self.what, self.path))
        try:
            nonce = base64.b64decode(envelope["nonce"], validate=True)
            ciphertext = base64.b64decode(envelope["ciphertext"], validate=True)
        except (KeyError, TypeError, binascii.Error, ValueError):
            raise StorageError("The %s %s is damaged." % (self.what, self.path))
        data = json.loads(unseal(self.key, nonce, ciphertext, self._associated(self.key), self.path).decode("utf-8"))
        return self.record_class(**data)

    def remove(self) -> bool:
        return remove_file(self.path)


def expired_error(authorization: DeviceAuthorization, now: float) -> ReauthRequired:
    if now >= authorization.expires_at:
        return ReauthRequired(
            "The device code expired before the sign-in was completed (user code %s)." % authorization.user_code,
            code="expired_token",
            hint="Run the task again with flow=device_code and complete the sign-in before the code expires.")
    return ReauthRequired(
        "No sign-in within device_code_timeout (%d s) for user code %s."
        % (authorization.timeout, authorization.user_code),
        code="device_code_timeout",
        hint="Run the task again with flow=device_code (raise device_code_timeout to wait longer).")


def denied_error(description: Optional[str] = None) -> ReauthRequired:
    detail = ": %s" % description if description else ""
    return ReauthRequired(
        "The sign-in was denied at the identity provider (access_denied)%s." % detail, code="access_denied",
        description=description,
        hint="Run the task again with flow=device_code and approve the request, with the intended account.")


def device_poll_error(error: Optional[str], description: Optional[str]) -> Optional[Exception]:
    """The RFC 8628 3.5 answers a poll can get, or None when it is another kind of error."""
    if error == "authorization_pending":
        return DevicePending()
    if error == "slow_down":
        return DevicePending(slow_down=True)
    if error == "access_denied":
        return denied_error(description)
    if error == "expired_token":
        return ReauthRequired(
            "The device code expired before the sign-in was completed (expired_token).", code="expired_token",
            description=description,
            hint="Run the task again with flow=device_code and complete the sign-in before the code expires.")
    return None


def poll_until(
    poll: Callable[[DeviceAuthorization], TokenGrant],
    authorization: DeviceAuthorization,
    window: float,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Tuple[str, Optional[TokenGrant]]:
    """Poll at the server's pace until granted, or ``window`` seconds pass (PENDING), or the sign-in ends.

    Honours ``interval`` and adds 5 s on every ``slow_down``; ``authorization`` is
    updated in place (interval, last poll) so a later call continues at the same pace.
    Temporary failures (network, 5xx) do not end a sign-in a person may be doing:
    they are retried at the polling pace until the deadline.
    """
    window_end = clock() + window
    while True:
        now = clock()
        deadline = authorization.deadline
        due = max(now, authorization.last_poll_at + authorization.interval)
        if due >= deadline:
            # No poll can happen in time any more: wait the deadline out (within this call's window), then fail.
            if deadline > window_end:
                return PENDING, None
            if deadline > now:
                sleep(deadline - now)
            raise expired_error(authorization, deadline)
        if due > window_end:
            return PENDING, None
        if due > now:
            sleep(due - now)
        authorization.last_poll_at = clock()
        try:
            return GRANTED, poll(authorization)
        except DevicePending as pending:
            if pending.slow_down:
                authorization.interval += SLOW_DOWN_STEP
        except TemporaryError:
            pass  # a network blip must not end a sign-in in progress; the deadline bounds the retries
