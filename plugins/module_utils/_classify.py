# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Turn an identity provider's error answer into a classified error.

Classification looks at the OAuth2 ``error`` field first and refines it with
Microsoft's AADSTS numbers, which Microsoft says may change: an unknown number
never overrides the ``error`` field.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from ._errors import ConfigurationError, OAuthMailError, ReauthRequired, TemporaryError

SIGN_IN_AGAIN = (
    "A person must sign in again: seed a new refresh_token (or run with flow=device_code where supported). "
    "The stored token was kept.")

# AADSTS numbers that mean "the grant is gone" (sign in again).
AADSTS_REAUTH = {
    70000: "The grant is invalid or was revoked.",
    700082: "The refresh token expired after 90 days without use.",
    70043: "A sign-in frequency policy (Conditional Access) expired the refresh token.",
    50173: "The grant was revoked (password change or administrator action).",
    50076: "Multi-factor authentication is required.",
    50079: "The user must enrol in multi-factor authentication.",
    54005: "The authorization code was already redeemed.",
    700084: "The refresh token of a single-page app expired.",
    50078: "The multi-factor authentication claim expired.",
}
# AADSTS numbers that are a configuration problem, with the option to fix.
AADSTS_CONFIGURATION = {
    7000215: ("client_secret", "The client secret is wrong (give the secret's value, not its id)."),
    7000222: ("client_secret", "The client secret expired: create a new one in the app registration."),
    700016: ("client_id", "No application with this client_id exists in the tenant (or it is in another tenant)."),
    90002: ("tenant_id", "The tenant was not found."),
    900023: ("tenant_id", "The tenant id is not a valid tenant name or GUID."),
    65001: ("scopes", "The permission was not consented: grant admin consent for the API permission."),
    70011: ("scopes", "A scope is not valid for this flow (app-only needs https://outlook.office365.com/.default)."),
    500011: ("scopes", "The resource of the scope is not present in the tenant."),
    7000112: ("client_id", "The application is disabled."),
    700027: ("client_certificate", "The client assertion could not be verified: upload the certificate."),
    7000218: ("client_secret", "A client_secret or client_certificate is required for this application."),
    700025: ("client_secret", "A public client must not send a client secret."),
}
# OAuth2 error values (RFC 6749 5.2, RFC 8628) by category.
TEMPORARY_ERRORS = {"temporarily_unavailable", "server_error", "slow_down"}
REAUTH_ERRORS = {"invalid_grant", "interaction_required", "login_required", "consent_required", "expired_token"}
CONFIGURATION_ERRORS = {
    "invalid_client": "client_secret",
    "unauthorized_client": "flow",
    "invalid_scope": "scopes",
    "unsupported_grant_type": "flow",
    "invalid_request": None,
    "access_denied": None,
    "invalid_target": "scopes",
}

_AADSTS = re.compile(r"AADSTS(\d+)")


def aadsts_codes(body: Dict[str, Any]) -> List[int]:
    """Microsoft's numbers from ``error_codes`` and the description, each once, in order."""
    found: List[int] = []
    listed = body.get("error_codes")
    candidates = [c for c in listed if isinstance(c, int)] if isinstance(listed, list) else []
    candidates += [int(m.group(1)) for m in _AADSTS.finditer(str(body.get("error_description") or ""))]
    for code in candidates:
        if code not in found:
            found.append(code)
    return found


def _short(text: Any, limit: int = 300) -> Optional[str]:
    if not text:
        return None
    first = str(text).strip().splitlines()[0]
    return first if len(first) <= limit else first[:limit] + "..."


def classify(
    status: Optional[int],
    body: Optional[Dict[str, Any]],
    retry_after: Optional[float] = None,
    where: str = "the identity provider",
) -> OAuthMailError:
    """An error for an unsuccessful token endpoint answer (status and parsed JSON body)."""
    body = body if isinstance(body, dict) else {}
    error = body.get("error")
    error = str(error) if error else None
    description = _short(body.get("error_description"))
    codes = aadsts_codes(body)
    code_text = ", ".join(["AADSTS%d" % c for c in codes]) or None
    code = error if not code_text else "%s (%s)" % (error, code_text)
    detail = ": %s" % description if description else ""
    kwargs = dict(code=code, description=description, http_status=status, retry_after=retry_after)

    if status == 429 or (status is not None and status >= 500) or error in TEMPORARY_ERRORS:
        what = "is rate limiting requests" if status == 429 else "is temporarily unavailable"
        return TemporaryError(
            "%s %s (HTTP %s, %s)%s." % (where.capitalize(), what, status, error or "no error code", detail),
            hint="The stored token was kept; try again later.", **kwargs)
    for number in codes:
        if number in AADSTS_CONFIGURATION:
            option, explanation = AADSTS_CONFIGURATION[number]
            return ConfigurationError(
                "%s refused the request with %s: %s Check %s." % (where.capitalize(), code, explanation, option),
                option=option, **kwargs)
    if error in REAUTH_ERRORS:
        reasons = [AADSTS_REAUTH[n] for n in codes if n in AADSTS_REAUTH]
        reason = (" " + reasons[0]) if reasons else ""
        return ReauthRequired(
            "%s no longer accepts the stored grant (%s)%s%s" % (where.capitalize(), code, detail, reason),
            hint=SIGN_IN_AGAIN, **kwargs)
    if error in CONFIGURATION_ERRORS:
        option = CONFIGURATION_ERRORS[error]
        check = " Check %s." % option if option else ""
        return ConfigurationError(
            "%s refused the request (%s)%s.%s" % (where.capitalize(), code, detail, check), option=option, **kwargs)
    if status is not None and 400 <= status < 500:
        return ConfigurationError(
            "%s refused the request (HTTP %s, %s)%s." % (where.capitalize(), status, code or "no error code", detail),
            **kwargs)
    return TemporaryError(
        "%s gave an unexpected answer (HTTP %s)%s." % (where.capitalize(), status, detail),
        hint="The stored token was kept; try again later.", **kwargs)
