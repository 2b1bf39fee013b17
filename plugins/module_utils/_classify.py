# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Turn an identity provider's error answer into a classified error.

Classification looks at the OAuth2 ``error`` field first and refines it with
Microsoft's AADSTS numbers, which Microsoft says may change: an unknown number
never overrides the ``error`` field. Google's answers get their own table
(``classify_google``): the same ``error`` means another fix for a Workspace
service account than for a Gmail user's grant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

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


@dataclass
class _Answer:
    """One unsuccessful answer, taken apart once for every rule."""

    status: Optional[int]
    error: Optional[str]
    description: Optional[str]
    codes: List[int]
    code: Optional[str]
    where: str
    kwargs: Dict[str, Any] = field(default_factory=dict)

    @property
    def detail(self) -> str:
        return ": %s" % self.description if self.description else ""


def _answer(status: Optional[int], body: Optional[Dict[str, Any]], retry_after: Optional[float],
            where: str) -> _Answer:
    body = body if isinstance(body, dict) else {}
    error = str(body["error"]) if body.get("error") else None
    description = _short(body.get("error_description"))
    codes = aadsts_codes(body)
    code_text = ", ".join(["AADSTS%d" % c for c in codes]) or None
    code = error if not code_text else "%s (%s)" % (error, code_text)
    return _Answer(status, error, description, codes, code, where[:1].upper() + where[1:],
                   dict(code=code, description=description, http_status=status, retry_after=retry_after))


def _temporary(answer: _Answer) -> Optional[OAuthMailError]:
    status = answer.status
    if status == 429 or (status is not None and status >= 500) or answer.error in TEMPORARY_ERRORS:
        what = "is rate limiting requests" if status == 429 else "is temporarily unavailable"
        return TemporaryError(
            "%s %s (HTTP %s, %s)%s." % (answer.where, what, status, answer.error or "no error code", answer.detail),
            hint="The stored token was kept; try again later.", **answer.kwargs)
    return None


def _aadsts_configuration(answer: _Answer) -> Optional[OAuthMailError]:
    for number in answer.codes:
        if number in AADSTS_CONFIGURATION:
            option, explanation = AADSTS_CONFIGURATION[number]
            return ConfigurationError(
                "%s refused the request with %s: %s Check %s." % (answer.where, answer.code, explanation, option),
                option=option, **answer.kwargs)
    return None


def _reauth(answer: _Answer) -> Optional[OAuthMailError]:
    if answer.error not in REAUTH_ERRORS:
        return None
    reasons = [AADSTS_REAUTH[n] for n in answer.codes if n in AADSTS_REAUTH]
    reason = (" " + reasons[0]) if reasons else ""
    return ReauthRequired(
        "%s no longer accepts the stored grant (%s)%s%s" % (answer.where, answer.code, answer.detail, reason),
        hint=SIGN_IN_AGAIN, **answer.kwargs)


def _oauth_configuration(answer: _Answer) -> Optional[OAuthMailError]:
    if answer.error not in CONFIGURATION_ERRORS:
        return None
    option = CONFIGURATION_ERRORS[answer.error]
    check = " Check %s." % option if option else ""
    return ConfigurationError(
        "%s refused the request (%s)%s.%s" % (answer.where, answer.code, answer.detail, check), option=option,
        **answer.kwargs)


def _client_error(answer: _Answer) -> Optional[OAuthMailError]:
    if answer.status is None or not 400 <= answer.status < 500:
        return None
    return ConfigurationError(
        "%s refused the request (HTTP %s, %s)%s."
        % (answer.where, answer.status, answer.code or "no error code", answer.detail), **answer.kwargs)


RULES: Tuple[Callable[[_Answer], Optional[OAuthMailError]], ...] = (
    _temporary, _aadsts_configuration, _reauth, _oauth_configuration, _client_error)


def classify(
    status: Optional[int],
    body: Optional[Dict[str, Any]],
    retry_after: Optional[float] = None,
    where: str = "the identity provider",
) -> OAuthMailError:
    """An error for an unsuccessful token endpoint answer (status and parsed JSON body)."""
    answer = _answer(status, body, retry_after, where)
    for rule in RULES:
        error = rule(answer)
        if error is not None:
            return error
    return TemporaryError(
        "%s gave an unexpected answer (HTTP %s)%s." % (answer.where, status, answer.detail),
        hint="The stored token was kept; try again later.", **answer.kwargs)


# -- Google ----------------------------------------------------------------------------------------------------

GOOGLE_SIGN_IN_AGAIN = (
    "A person must sign in to Google again and a new refresh_token be seeded (flow refresh_token). "
    "The stored token was kept.")
GOOGLE_EXPIRED_OR_REVOKED = (
    " The person or an administrator revoked the app's access, the password changed, the grant was unused for six "
    "months, or the OAuth app is in \"Testing\" publishing status, whose refresh tokens die after 7 days (Google "
    "Cloud console, OAuth consent screen: publish the app \"In production\" to stop that).")
DELEGATION_STEP = (
    "In the Google Admin console, Security > Access and data control > API controls > Domain-wide delegation, "
    "add (or edit) the client ID %(service_account_id)s (the service account's unique ID) with the OAuth scopes "
    "%(scopes)s; %(username)s must be a user of that Workspace.")
# Where a Workspace administrator's policy blocks the app: signing in again is refused the same way until it changes.
APP_ACCESS_STEP = (
    "In the Google Admin console, Security > Access and data control > API controls > App access control, make the "
    "app (client ID %(client_id)s) Trusted or allow its access to Gmail; a new sign-in alone does not help.")

# (error, flow kind) -> (category, option or None, explanation); flow kind "service_account" or "user".
GOOGLE_ERRORS: Dict[Tuple[str, str], Tuple[type, Optional[str], str]] = {
    ("invalid_grant", "user"): (ReauthRequired, None, "%(description)s" + GOOGLE_EXPIRED_OR_REVOKED),
    ("invalid_rapt", "user"): (
        ReauthRequired, None, "Re-authentication is required by policy (invalid_rapt): a Workspace session control "
                              "ended the person's sign-in."),
    ("unauthorized_client", "user"): (
        ConfigurationError, "client_id", "The refresh token belongs to another OAuth client: give the client_id "
                                         "(and client_secret) the person signed in to."),
    ("invalid_client", "user"): (
        ConfigurationError, "client_secret", "The OAuth client was not found or its secret is wrong: give the "
                                             "client secret of the same OAuth client ID."),
    ("unauthorized_client", "service_account"): (
        ConfigurationError, None, "The service account %(client_id)s may not act for %(username)s: domain-wide "
                                  "delegation is not granted. " + DELEGATION_STEP),
    ("invalid_client", "service_account"): (
        ConfigurationError, "%(key_option)s", "The service account or its key was deleted or disabled in Google "
                                              "Cloud: create a new JSON key."),
    ("admin_policy_enforced", "user"): (ConfigurationError, None, APP_ACCESS_STEP),
    ("admin_policy_enforced", "service_account"): (ConfigurationError, None, APP_ACCESS_STEP),
    ("deleted_client", "user"): (
        ConfigurationError, "client_id", "The OAuth client was deleted: create a new one and sign in again."),
    ("invalid_scope", "user"): (
        ConfigurationError, "scopes", "Google does not accept the scopes %(scopes)s (https://mail.google.com/ "
                                      "covers IMAP, SMTP and POP)."),
    ("invalid_scope", "service_account"): (
        ConfigurationError, "scopes", "Google does not accept the scopes %(scopes)s. " + DELEGATION_STEP),
}
# A service account's invalid_grant: no person can fix it by signing in; Google's description tells what to fix.
GOOGLE_ASSERTION_ERRORS: Tuple[Tuple[str, Optional[str], str], ...] = (
    ("invalid email or user id", "username",
     "%(username)s is not a user of the service account's Workspace (or is suspended): check username."),
    ("invalid jwt signature", "%(key_option)s",
     "Google does not know this key (its private_key_id): it was deleted or disabled; create a new JSON key."),
    ("short-lived token", None,
     "The assertion's time is off: synchronise the clock of the host that renews the token (NTP)."),
    ("account not found", "%(key_option)s", "The service account %(client_id)s was deleted or disabled."),
    ("", "%(key_option)s", "Google refused the service account's signed assertion."),
)


def _google_error(body: Optional[Dict[str, Any]], answer: _Answer) -> str:
    """Google sends a policy re-authentication as invalid_grant with error_subtype invalid_rapt."""
    subtype = str(body.get("error_subtype") or "") if isinstance(body, dict) else ""
    if "invalid_rapt" in (subtype, answer.error) or "(invalid_rapt)" in (answer.description or ""):
        if answer.error != "invalid_rapt":
            answer.code = answer.kwargs["code"] = "%s (invalid_rapt)" % answer.error
        return "invalid_rapt"
    return answer.error or ""


def _google_rule(answer: _Answer, error: str, context: Dict[str, Any]) -> Optional[Tuple[type, Optional[str], str]]:
    kind = "service_account" if context.get("flow") == "service_account" else "user"
    if kind == "service_account" and error == "invalid_grant":
        text = (answer.description or "").lower()
        for needle, option, explanation in GOOGLE_ASSERTION_ERRORS:
            if needle in text:
                return ConfigurationError, option, explanation
    return GOOGLE_ERRORS.get((error, kind))


def classify_google(status: Optional[int], body: Optional[Dict[str, Any]], retry_after: Optional[float],
                    where: str, context: Dict[str, Any]) -> OAuthMailError:
    """Google's answers with the fix in the message; ``context`` holds the flow, ids, username and scopes."""
    answer = _answer(status, body, retry_after, where)
    rule = None if _temporary(answer) else _google_rule(answer, _google_error(body, answer), context)
    if rule is None:
        return classify(status, body, retry_after, where)
    category, option, explanation = rule
    values = dict((name, value if value else "(unknown)") for name, value in context.items())
    values["description"] = answer.description or "The grant is no longer valid."
    option = option % values if option else None
    text = "%s refused the request (%s): %s" % (answer.where, answer.code, explanation % values)
    hint = GOOGLE_SIGN_IN_AGAIN if category is ReauthRequired else None
    return category(text, option=option, hint=hint, **answer.kwargs)
