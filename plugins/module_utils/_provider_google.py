# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Google: Gmail users (refresh tokens) and Workspace service accounts (JWT bearer grant, RFC 7523).

Google's endpoints are built in, so the default needs no discovery request.
Another ``authority`` (an issuer with OpenID Connect discovery, e.g. the test
stack) stands in for Google. A service account has no refresh token: every
renewal signs a new assertion with the key sealed in the token file.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List

from ._classify import classify_google
from ._dependencies import require
from ._errors import ConfigurationError
from ._provider_oidc import OidcProvider
from ._service_account_key import ServiceAccountKey
from ._settings import GOOGLE_ISSUER
from ._token_record import TokenGrant

GOOGLE_ENDPOINTS = {
    "issuer": GOOGLE_ISSUER,
    "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
    "token_endpoint": "https://oauth2.googleapis.com/token",
    "device_authorization_endpoint": "https://oauth2.googleapis.com/device/code",
    "revocation_endpoint": "https://oauth2.googleapis.com/revoke",
    "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
}
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Google accepts assertions valid for at most one hour.
ASSERTION_LIFETIME = 3600


def sign_assertion(key: ServiceAccountKey, subject: str, scopes: List[str], audience: str, now: float) -> str:
    """The RS256 assertion of RFC 7523, signed by PyJWT; ``aud`` is the endpoint it is sent to, and nowhere else."""
    jwt = require("jwt")
    issued = int(now)
    claims = {"iss": key.client_email, "sub": subject, "scope": " ".join(scopes), "aud": audience,
              "iat": issued, "exp": issued + ASSERTION_LIFETIME}
    try:
        token = jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.private_key_id})
    except (TypeError, ValueError, jwt.exceptions.PyJWTError) as exc:
        raise ValueError(exc.__class__.__name__) from None  # the key's text stays out of the message
    return token.decode("ascii") if isinstance(token, bytes) else token  # PyJWT 1.x gives bytes


class GoogleProvider(OidcProvider):
    name = "google"

    @property
    def is_google(self) -> bool:
        return self.settings.authority.rstrip("/") == GOOGLE_ISSUER

    def metadata(self) -> Dict[str, Any]:
        if self.is_google:
            return dict(GOOGLE_ENDPOINTS)
        return super().metadata()

    def where(self) -> str:
        if self.is_google:
            return "Google"
        return "the identity provider at %s (standing in for Google)" % self.settings.authority

    def _client_auth(self, data: Dict[str, str]) -> Dict[str, str]:
        if self.settings.flow == "service_account":
            return {"Accept": "application/json"}  # the signed assertion is the authentication
        return super()._client_auth(data)

    def acquire(self) -> TokenGrant:
        if self.settings.flow == "service_account":
            return self.service_account()
        return super().acquire()

    def _authorization_extras(self) -> Dict[str, str]:
        # Google gives a refresh token only with access_type=offline, and again on a new sign-in only with consent.
        return {"access_type": "offline", "prompt": "consent"}

    def refresh(self, refresh_token: str) -> TokenGrant:
        grant = super().refresh(refresh_token)
        if not grant.refresh_token:
            # Google does not rotate: without this, a seeded refresh token would not be stored at all.
            grant.refresh_token = refresh_token
        return grant

    def _key(self) -> ServiceAccountKey:
        key = ServiceAccountKey.from_sealed(self.credential)
        if key is None:
            raise ConfigurationError(
                "service_account_key_file (or service_account_key) is required for flow service_account: no key "
                "was given and the token file holds none for %s." % self.settings.client_id,
                option="service_account_key_file")
        if key.client_email != self.settings.client_id:
            # A sealed key serves only the service account it was stored for.
            raise ConfigurationError(
                "The key is for %s, not for the service account %s of this token."
                % (key.client_email, self.settings.client_id), option="service_account_key_file")
        return key

    def service_account(self) -> TokenGrant:
        key = self._key()
        endpoint = self.metadata()["token_endpoint"]
        try:
            assertion = sign_assertion(key, self.settings.username, self.settings.scopes or [], endpoint, time.time())
        except ValueError as exc:
            # Only a key that parses but is not a consistent RSA key gets here.
            option = self._error_context()["key_option"]
            raise ConfigurationError(
                "%s: the private key of %s cannot sign (%s); download a new JSON key."
                % (option, key.client_email, exc), option=option)
        return self._token_request({"grant_type": JWT_BEARER, "assertion": assertion})

    def _error_context(self) -> Dict[str, Any]:
        key = ServiceAccountKey.from_sealed(self.credential)
        return {
            "flow": self.settings.flow,
            "client_id": self.settings.client_id,
            "service_account_id": (key.client_id if key else None) or self.settings.client_id,
            "username": self.settings.username,
            "scopes": " ".join(self.settings.scopes or []),
            "key_option": "service_account_key" if self.settings.service_account_key else "service_account_key_file",
        }

    def _error(self, status: int, body):
        return classify_google(status, body, self.session.last_retry_after, self.where(), self._error_context())
