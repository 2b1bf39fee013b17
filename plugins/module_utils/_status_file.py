# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``.status`` side file: the last outcome of a token's renewal, for monitoring.

It lives beside the token file so that a failure can be recorded without
touching the token file itself (which stays byte for byte as it was). It is
advisory: nothing secret, nothing a security decision depends on. So reading
it never fails (a missing, malformed or refused file reads as empty, and
counters that are not counts read as 0), and writing it never raises: the
writers return what went wrong, for a warning, and the caller carries on.
"""

from __future__ import annotations

import json
import time
from typing import Any, Dict, Optional

from ._atomic_write import write_atomic
from ._errors import OAuthMailError
from ._side_files import read_file

VALID = "valid"
NEEDS_REAUTH = "needs_reauth"
ERROR = "error"

# Far more than any status this collection writes; a bigger file is not ours.
MAX_SIZE = 64 * 1024
COUNTERS = ("refreshes", "failures", "consecutive_failures")
TIMES = ("last_success_at", "updated_at")


def _count(value: Any) -> int:
    # bool is an int in Python; JSON true is no count. Floats (1e999 is inf) are not counts either.
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _sanitised(data: Any) -> Dict[str, Any]:
    if not isinstance(data, dict):
        return {}
    clean = dict(data)
    for name in COUNTERS:
        clean[name] = _count(data.get(name))
    for name in TIMES:
        if not isinstance(data.get(name), (int, float)) or isinstance(data.get(name), bool):
            clean.pop(name, None)
    if not isinstance(data.get("last_error"), dict):
        clean.pop("last_error", None)
    for name in ("state", "last_action"):
        if not isinstance(data.get(name), str):
            clean.pop(name, None)
    return clean


def read_status(path: str, owner: Optional[int] = None) -> Dict[str, Any]:
    """The status as a dict with well-typed counters; {} when absent, unreadable or not ours."""
    try:
        raw = read_file(path, "status file", owner=owner, limit=MAX_SIZE)
        return _sanitised(json.loads(raw.decode("utf-8"))) if raw else {}
    except (OAuthMailError, OSError, ValueError):
        return {}


def _write(path: str, mode: int, uid: Optional[int], gid: Optional[int], data: Dict[str, Any]) -> Optional[str]:
    try:
        write_atomic(path, (json.dumps(data, sort_keys=True) + "\n").encode(), mode, uid, gid, what="status file")
    except (OAuthMailError, OSError, ValueError, TypeError) as exc:
        return "The status file %s was not updated (it is advisory; the token is safe): %s" % (path, exc)
    return None


def record_success(path: str, mode: int, uid: Optional[int], gid: Optional[int], action: str) -> Optional[str]:
    """Note a successful renewal; None, or why the status could not be written."""
    now = int(time.time())
    previous = read_status(path, uid)
    data = {
        "state": VALID,
        "last_action": action,
        "last_success_at": now,
        "updated_at": now,
        "consecutive_failures": 0,
        "refreshes": previous.get("refreshes", 0) + 1,
        "failures": previous.get("failures", 0),
    }
    return _write(path, mode, uid, gid, data)


def record_failure(path: str, mode: int, uid: Optional[int], gid: Optional[int],
                   error: OAuthMailError) -> Optional[str]:
    """Note a failed renewal; None, or why the status could not be written."""
    now = int(time.time())
    previous = read_status(path, uid)
    data = dict(previous)
    data.update({
        "state": NEEDS_REAUTH if error.category == "reauth_required" else ERROR,
        "updated_at": now,
        "consecutive_failures": previous.get("consecutive_failures", 0) + 1,
        "failures": previous.get("failures", 0) + 1,
        "last_error": dict(error.to_dict(), message=error.message, at=now),
    })
    return _write(path, mode, uid, gid, data)
