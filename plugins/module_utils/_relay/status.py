# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""``status``: each account's token state from its token file and ``.status`` side file.

Works without the server running (it reads what the server and the module
wrote). Exit codes follow the Nagios plugin convention.

States: ``valid``; ``expiring`` (the access token is within min_validity and
cannot be renewed unattended, or the refresh token is close to the
provider's idle limit); ``needs_reauth`` (the last renewal said the grant is
gone: a person must sign in again); ``error`` (unreadable token file, or the
last renewal failed).

During a key rotation each account also says which key seals its token file
(``key``: ``current`` or ``previous``, with ``key_id``), so that the old key
is removed from ``key_file`` only once no file needs it.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List, Tuple

from .._crypto import key_id
from .._errors import OAuthMailError
from .._status_file import read_status
from .._token_file import TokenFile
from .._token_record import iso_utc

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
# Microsoft refresh tokens die after 90 idle days; warn well before.
REFRESH_TOKEN_WARN_AGE = 80 * 86400


def _count(side: Dict[str, Any], name: str) -> int:
    """A counter of the advisory .status file; anything malformed counts as 0."""
    try:
        return max(0, int(side.get(name) or 0))
    except (TypeError, ValueError):
        return 0


def _when(value: Any):
    return iso_utc(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def account_status(account, now: float = None) -> Tuple[Dict[str, Any], int]:
    token_file = TokenFile(account.token_file, account.key, previous_keys=getattr(account, "previous_keys", ()))
    info, code = _assess(account, token_file, time.time() if now is None else now)
    if info.get("key") == "previous":
        info["message"] = "%s; sealed with a previous key (id %s): the next renewal re-seals it, or now: " \
            "xoauth2-relay refresh %s" % (info.get("message", ""), info["key_id"], account.name)
    return info, code


def _assess(account, token_file: TokenFile, now: float) -> Tuple[Dict[str, Any], int]:
    side = read_status(token_file.status_path)
    info = _side_info(account, side)
    try:
        record = token_file.read()
    except OAuthMailError as exc:
        info.update(state="error", message=str(exc))
        return info, CRITICAL
    if record is None:
        info.update(state="error", message="no token file at %s: create it with xoauth2.mail.oauth_mail_token"
                    % account.token_file)
        return info, CRITICAL
    old_key = token_file.previous_key_id(record)
    info.update(key="previous" if old_key else "current", key_id=old_key or key_id(token_file.key))
    meta = record.meta
    info.update(username=account.username or meta.get("username"), provider=meta.get("provider"),
                flow=meta.get("flow"), expires_at=iso_utc(meta.get("expires_at")),
                expires_in=int(record.seconds_left(now)), has_refresh_token=bool(record.refresh_token))
    if not info["last_refresh"]:
        info["last_refresh"] = iso_utc(meta.get("updated_at"))
    return _token_state(account, record, side, info, now)


def _side_info(account, side: Dict[str, Any]) -> Dict[str, Any]:
    """What the advisory .status file says; malformed values are left out, never fatal."""
    info: Dict[str, Any] = {
        "account": account.name,
        "token_file": account.token_file,
        "last_refresh": _when(side.get("last_success_at")),
        "refreshes": _count(side, "refreshes"),
        "failures": _count(side, "failures"),
        "consecutive_failures": _count(side, "consecutive_failures"),
    }
    error = side.get("last_error")
    if isinstance(error, dict):
        info["last_error"] = {k: error.get(k) for k in ("error_category", "error_code", "message")
                              if error.get(k) is not None}
        info["last_error"]["at"] = _when(error.get("at"))
    return info


def _token_state(account, record, side: Dict[str, Any], info: Dict[str, Any],
                 now: float) -> Tuple[Dict[str, Any], int]:
    seconds = info["expires_in"]
    meta = record.meta
    # app-only tokens and Google service accounts (a new signed assertion) renew without a refresh token
    renewable = bool(record.refresh_token) or meta.get("flow") in ("client_credentials", "service_account")
    if side.get("state") == "needs_reauth" and info["consecutive_failures"]:
        info.update(state="needs_reauth",
                    message="the grant is gone: sign in again (oauth_mail_token with flow auth_code or "
                            "device_code, or a new refresh token)")
        return info, CRITICAL
    if info["consecutive_failures"]:
        usable = seconds > 0
        info.update(state="error", message="the last %d renewal(s) failed; %s" % (
            info["consecutive_failures"], "the current token still works" if usable else "no valid token"))
        return info, WARNING if usable else CRITICAL
    if record.refresh_token:
        issued = float(meta.get("refresh_token_issued_at") or meta.get("updated_at") or 0)
        if issued and now - issued > REFRESH_TOKEN_WARN_AGE:
            info.update(state="expiring", message="the refresh token was last renewed %d days ago"
                        % int((now - issued) / 86400))
            return info, WARNING
    if seconds <= account.min_validity and not renewable:
        info.update(state="expiring" if seconds else "error",
                    message="the access token expires and cannot be renewed unattended")
        return info, WARNING if seconds else CRITICAL
    info.update(state="valid" if seconds > account.min_validity else "expiring",
                message="renewed on next use" if seconds <= account.min_validity else "ok")
    return info, OK


def overall(config) -> Tuple[List[Dict[str, Any]], int]:
    results, worst = [], OK
    for account in config.accounts:
        info, code = account_status(account)
        info["exit_code"] = code
        results.append(info)
        worst = max(worst, code) if code != UNKNOWN else max(worst, UNKNOWN)
    return results, worst
