# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``.status`` side file: the last outcome of a token's renewal, for monitoring.

It lives beside the token file so that a failure can be recorded without
touching the token file itself (which stays byte for byte as it was). It is
advisory: nothing secret, nothing a security decision depends on.
"""

from __future__ import annotations

import json
import time
from typing import Any, Dict, Optional

from ._atomic_write import write_atomic
from ._errors import OAuthMailError

VALID = "valid"
NEEDS_REAUTH = "needs_reauth"
ERROR = "error"


def read_status(path: str) -> Dict[str, Any]:
    try:
        with open(path, "r") as handle:
            data = json.load(handle)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def record_success(path: str, mode: int, uid: Optional[int], gid: Optional[int], action: str) -> None:
    now = int(time.time())
    previous = read_status(path)
    data = {
        "state": VALID,
        "last_action": action,
        "last_success_at": now,
        "updated_at": now,
        "consecutive_failures": 0,
        "refreshes": int(previous.get("refreshes") or 0) + 1,
        "failures": int(previous.get("failures") or 0),
    }
    write_atomic(path, (json.dumps(data, sort_keys=True) + "\n").encode(), mode, uid, gid)


def record_failure(path: str, mode: int, uid: Optional[int], gid: Optional[int], error: OAuthMailError) -> None:
    now = int(time.time())
    previous = read_status(path)
    data = dict(previous)
    data.update({
        "state": NEEDS_REAUTH if error.category == "reauth_required" else ERROR,
        "updated_at": now,
        "consecutive_failures": int(previous.get("consecutive_failures") or 0) + 1,
        "failures": int(previous.get("failures") or 0) + 1,
        "last_error": dict(error.to_dict(), message=error.message, at=now),
    })
    write_atomic(path, (json.dumps(data, sort_keys=True) + "\n").encode(), mode, uid, gid)
