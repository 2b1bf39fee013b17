# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Authorization code grant with PKCE (RFC 7636) and a loopback redirect (RFC 8252): the pieces on the managed host.

The sign-in is started and finished on the host that keeps the token, like
the device flow: the PKCE verifier never leaves it (sealed in
``<token path>.signin`` with the token file's key between the two steps), so
the authorization code that travels back from the controller's browser is
useless to anyone who sees it, and the tokens are made and stored here.
Only the authorization URL (whose ``state`` and ``code_challenge`` a browser
shows anyway) goes to the controller.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Optional
from urllib.parse import parse_qs, urlencode, urlsplit

from ._device_flow import PendingStore
from ._errors import ConfigurationError, ReauthRequired

SIGNIN_SUFFIX = ".signin"
AUTH_CODE_GRANT = "authorization_code"
DEFAULT_TIMEOUT = 300
LOOPBACK_NAMES = ("localhost",)
REDIRECT_OPTION = "auth_code_redirect_uri"
RESPONSE_OPTION = "auth_code_response"
RETRY_HINT = "Run the task again with flow=auth_code and complete the sign-in in the browser."


def new_state() -> str:
    return secrets.token_urlsafe(24)


def new_verifier() -> str:
    """43 to 128 unreserved characters (RFC 7636 4.1): 64 random bytes, base64url."""
    return secrets.token_urlsafe(64)[:96]


def challenge(verifier: str) -> str:
    """S256: BASE64URL(SHA256(verifier)) without padding (RFC 7636 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def is_loopback_host(host: Optional[str]) -> bool:
    if not host:
        return False
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_redirect_uri(uri: str) -> Dict[str, Any]:
    """``http://<loopback>[:port][/path]`` only (RFC 8252 7.3): host, port (0 = any free one) and path."""
    parts = urlsplit(str(uri or ""))
    try:
        port = parts.port or 0
    except ValueError:
        port = -1
    if parts.scheme != "http" or not is_loopback_host(parts.hostname) or port < 0 or parts.query or parts.fragment:
        raise ConfigurationError(
            "%s must be a loopback address such as http://127.0.0.1:8400/ (RFC 8252: http, host 127.0.0.1, [::1] "
            "or localhost, an optional port, no query), got %r. The sign-in's redirect must come back to this "
            "controller, never to another host." % (REDIRECT_OPTION, uri), option=REDIRECT_OPTION)
    return {"host": parts.hostname, "port": port, "path": parts.path or "/"}


def authorization_url(endpoint: str, params: Dict[str, str]) -> str:
    joiner = "&" if "?" in endpoint else "?"
    return endpoint + joiner + urlencode(params)


def _one(query: Dict[str, Any], name: str) -> Optional[str]:
    values = query.get(name) or []
    return values[0] if values else None


def parse_redirect(url: str, expected_state: str, redirect_uri: Optional[str] = None) -> str:
    """The authorization code in the redirected URL, after checking ``state`` (constant time) and errors.

    Errors are named, and never repeat the code: denied consent (``access_denied``), another error from the
    provider, a wrong or missing ``state`` (``state_mismatch``), no code, or a URL that is not the redirect.
    """
    parts = urlsplit(str(url or "").strip())
    query = parse_qs(parts.query, keep_blank_values=True)
    if redirect_uri is not None and not _same_redirect(parts, redirect_uri):
        raise ConfigurationError(
            "The pasted address does not start with the redirect address %s of this sign-in: paste the whole "
            "address the browser was sent to after the sign-in." % redirect_uri, option=RESPONSE_OPTION,
            code="not_the_redirect")
    state = _one(query, "state")
    if state is None or not hmac.compare_digest(state.encode("utf-8"), expected_state.encode("utf-8")):
        # Checked before the error too: only the browser that started this sign-in may end it.
        raise ReauthRequired(
            "The sign-in answer carries %s state: it is not the answer to this sign-in (a stale browser tab, or a "
            "forged request). Nothing was written." % ("a wrong" if state is not None else "no"),
            code="state_mismatch", hint=RETRY_HINT)
    error = _one(query, "error")
    if error:
        description = _one(query, "error_description")
        detail = ": %s" % description if description else ""
        if error == "access_denied":
            raise ReauthRequired("The sign-in was denied in the browser (access_denied)%s." % detail,
                                 code="access_denied", description=description,
                                 hint="Run the task again with flow=auth_code and allow the access, with the "
                                      "intended account.")
        raise ReauthRequired("The identity provider ended the sign-in with %s%s." % (error, detail),
                             code=error, description=description, hint=RETRY_HINT)
    code = _one(query, "code")
    if not code:
        raise ReauthRequired("The sign-in answer carries no authorization code.", code="no_code", hint=RETRY_HINT)
    return code


def _same_redirect(parts, redirect_uri: str) -> bool:
    expected = urlsplit(redirect_uri)
    return (parts.scheme, parts.hostname, parts.port, parts.path or "/") == (
        expected.scheme, expected.hostname, expected.port, expected.path or "/")


@dataclass
class AuthCodeSignIn:
    """A started browser sign-in. ``state``, ``code_verifier`` and ``extra`` are secret until it ends."""

    state: str = field(repr=False)
    code_verifier: str = field(repr=False)
    redirect_uri: str = ""
    authorization_url: str = ""
    started_at: float = 0.0
    timeout: float = DEFAULT_TIMEOUT
    identity: Dict[str, Any] = field(default_factory=dict)
    # Provider-specific state (msal's auth code flow dict), sealed with the rest.
    extra: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def new(cls, redirect_uri: str, now: Optional[float] = None) -> "AuthCodeSignIn":
        return cls(state=new_state(), code_verifier=new_verifier(), redirect_uri=redirect_uri,
                   started_at=time.time() if now is None else now)

    @property
    def expires_at(self) -> float:
        return self.started_at + self.timeout

    def pkce_params(self) -> Dict[str, str]:
        return {"state": self.state, "code_challenge": challenge(self.code_verifier), "code_challenge_method": "S256"}

    def prompt(self) -> Dict[str, Any]:
        """What the controller needs: the URL to open (it carries ``state``, as a browser shows it) and the wait."""
        return {
            "authorization_url": self.authorization_url,
            "redirect_uri": self.redirect_uri,
            "expires_at": int(self.expires_at),
            "timeout": int(self.timeout),
        }

    def check_not_expired(self, now: float) -> None:
        if now > self.expires_at:
            raise ReauthRequired(
                "No sign-in answer within auth_code_timeout (%d s)." % self.timeout, code="auth_code_timeout",
                hint="Run the task again with flow=auth_code (raise auth_code_timeout to wait longer).")


class SignInStore(PendingStore):
    """``<token path>.signin``: the started browser sign-in, sealed with the token file's key."""

    suffix = SIGNIN_SUFFIX
    format = "xoauth2.mail/signin"
    record_class = AuthCodeSignIn
    what = "pending browser sign-in"
