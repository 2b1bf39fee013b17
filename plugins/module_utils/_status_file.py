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

Notices (``_notify``) hang off these writers, so the module, the lookup and
the relay announce a change the same way, once. ``notice.announced`` is the
last state a notice went out for (``valid`` at first); a write whose state
differs leaves ``notice.pending`` (that state, the channels already
delivered, attempts, the next attempt's time). A writer given a notifier
sends what is pending and due; one without (the lookup) only records it, for
the next writer or the relay's periodic check. Callers hold the token's lock
while a notifier is given, so one process at a time decides and sends: one
notice per change. A failed send is retried at the next due write or check,
first after ``retry_interval`` seconds, then doubling up to an hour, until it
is delivered or the state changes again (a change back to the announced
state cancels it: nobody was told of the problem).
"""

from __future__ import annotations

import json
import time
from typing import Any, Dict, List, Optional

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
STATES = (VALID, NEEDS_REAUTH, ERROR)
MAX_RETRY_INTERVAL = 3600


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
    if "notice" in data:
        clean["notice"] = _notice_of(data["notice"])
    return clean


def _number(value: Any) -> float:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _notice_of(data: Any) -> Dict[str, Any]:
    """The notice bookkeeping, well-typed whatever the file held."""
    data = data if isinstance(data, dict) else {}
    notice: Dict[str, Any] = {"announced": data.get("announced") if data.get("announced") in STATES else VALID}
    pending = _pending_of(data.get("pending"), notice["announced"])
    if pending is not None:
        notice["pending"] = pending
    notice.update({name: data[name] for name in ("last_sent_at", "last_sent_state") if data.get(name) is not None})
    return notice


def _pending_of(data: Any, announced: str) -> Optional[Dict[str, Any]]:
    if not isinstance(data, dict) or data.get("state") not in STATES:
        return None
    delivered = data.get("delivered")
    if not isinstance(delivered, list):
        delivered = []
    pending = {
        "state": data["state"],
        "previous_state": announced,
        "since": _number(data.get("since")),
        "attempts": _count(data.get("attempts")),
        "next_attempt_at": _number(data.get("next_attempt_at")),
        "delivered": sorted({channel for channel in delivered if isinstance(channel, str)}),
    }
    pending.update({name: data[name] for name in ("last_problem", "last_attempt_at") if data.get(name) is not None})
    return pending


def _with_change(notice: Dict[str, Any], state: str, now: float) -> Dict[str, Any]:
    """The notice bookkeeping once the status says ``state``."""
    notice = dict(notice)
    pending = notice.get("pending")
    if state == notice["announced"]:
        notice.pop("pending", None)  # back where everyone was last told it is: nothing to say
    elif pending is None or pending["state"] != state:
        notice["pending"] = {"state": state, "previous_state": notice["announced"], "since": now, "attempts": 0,
                             "next_attempt_at": now, "delivered": []}
    return notice


def _deliver(status: Dict[str, Any], notifier: Any, now: float) -> Optional[str]:
    """Send the pending notice if it is due (changes ``status["notice"]``); what went wrong, or None."""
    notice = status.setdefault("notice", _notice_of(None))
    pending = notice.get("pending")
    if notifier is None or pending is None or pending["next_attempt_at"] > now or not notifier.channels:
        return None
    delivered, problems = notifier.deliver(status, pending)
    pending = dict(pending, delivered=sorted(set(pending["delivered"]) | set(delivered)),
                   attempts=pending["attempts"] + 1, last_attempt_at=now)
    if set(notifier.channels) <= set(pending["delivered"]):
        status["notice"] = {"announced": pending["state"], "last_sent_at": now, "last_sent_state": pending["state"]}
        return None
    interval = float(notifier.settings.retry_interval) * 2 ** min(pending["attempts"] - 1, 12)
    pending.update(next_attempt_at=now + min(interval, MAX_RETRY_INTERVAL), last_problem="; ".join(problems))
    notice["pending"] = pending
    return "The %s notice for %s was not sent (attempt %d; retried from %d s on): %s" % (
        pending["state"], notifier.context["token_file"], pending["attempts"], int(pending["next_attempt_at"] - now),
        "; ".join(problems))


def read_status(path: str, owner: Optional[int] = None) -> Dict[str, Any]:
    """The status as a dict with well-typed counters; {} when absent, unreadable or not ours."""
    try:
        raw = read_file(path, "status file", owner=owner, limit=MAX_SIZE)
        return _sanitised(json.loads(raw.decode("utf-8"))) if raw else {}
    except (OAuthMailError, OSError, ValueError):
        return {}


def _write(path: str, mode: int, uid: Optional[int], gid: Optional[int], data: Dict[str, Any],
           notifier: Any, now: float) -> Optional[str]:
    """Send a due notice (when a notifier is given), then write; the problems joined, or None."""
    problems: List[str] = []
    notice_problem = _deliver(data, notifier, now)
    if notice_problem:
        problems.append(notice_problem)
    try:
        write_atomic(path, (json.dumps(data, sort_keys=True) + "\n").encode(), mode, uid, gid, what="status file")
    except (OAuthMailError, OSError, ValueError, TypeError) as exc:
        problems.append("The status file %s was not updated (it is advisory; the token is safe): %s" % (path, exc))
    return " ".join(problems) or None


def record_success(path: str, mode: int, uid: Optional[int], gid: Optional[int], action: str,
                   notifier: Any = None) -> Optional[str]:
    """Note a successful renewal (and send a due notice); None, or why the status or notice failed."""
    now = int(time.time())
    previous = read_status(path, uid)
    data = {
        "notice": _with_change(previous.get("notice") or _notice_of(None), VALID, now),
        "state": VALID,
        "last_action": action,
        "last_success_at": now,
        "updated_at": now,
        "consecutive_failures": 0,
        "refreshes": previous.get("refreshes", 0) + 1,
        "failures": previous.get("failures", 0),
    }
    return _write(path, mode, uid, gid, data, notifier, now)


def record_failure(path: str, mode: int, uid: Optional[int], gid: Optional[int],
                   error: OAuthMailError, notifier: Any = None) -> Optional[str]:
    """Note a failed renewal (and send a due notice); None, or why the status or notice failed."""
    now = int(time.time())
    previous = read_status(path, uid)
    data = dict(previous)
    state = NEEDS_REAUTH if error.category == "reauth_required" else ERROR
    data.update({
        "notice": _with_change(previous.get("notice") or _notice_of(None), state, now),
        "state": state,
        "updated_at": now,
        "consecutive_failures": previous.get("consecutive_failures", 0) + 1,
        "failures": previous.get("failures", 0) + 1,
        "last_error": dict(error.to_dict(), message=error.message, at=now),
    })
    return _write(path, mode, uid, gid, data, notifier, now)


def notice_due(path: str, owner: Optional[int] = None, now: Optional[float] = None) -> bool:
    """Whether a notice waits to be sent and its time has come (a cheap read, no lock)."""
    pending = read_status(path, owner).get("notice", {}).get("pending")
    return pending is not None and pending["next_attempt_at"] <= (time.time() if now is None else now)


def deliver_pending(path: str, mode: int, uid: Optional[int], gid: Optional[int], notifier: Any) -> Optional[str]:
    """Send a notice left pending (by a failed send or a writer without a notifier); call with the lock held."""
    now = time.time()
    status = read_status(path, uid)
    pending = status.get("notice", {}).get("pending")
    if not status or pending is None or pending["next_attempt_at"] > now:
        return None
    return _write(path, mode, uid, gid, status, notifier, now)
