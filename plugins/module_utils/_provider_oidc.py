# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Any standards-compliant OAuth2 / OpenID Connect server, endpoints from discovery."""

from __future__ import annotations

import base64
import time
from typing import Any, Dict, Optional
from urllib.parse import quote

from ._auth_code_flow import AUTH_CODE_GRANT, authorization_url
from ._classify import classify
from ._device_flow import DEVICE_GRANT_TYPE, DeviceAuthorization, device_poll_error
from ._dependencies import require
from ._errors import ConfigurationError
from ._http import network_error, parse_json
from ._provider_base import Provider
from ._token_record import TokenGrant

DISCOVERY_PATH = "/.well-known/openid-configuration"


class OidcProvider(Provider):
    name = "oidc"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._metadata: Optional[Dict[str, Any]] = None

    def metadata(self) -> Dict[str, Any]:
        """The server's discovery document (fetched once per provider object)."""
        if self._metadata is not None:
            return self._metadata
        requests = require("requests")
        url = self.settings.authority.rstrip("/") + DISCOVERY_PATH
        try:
            response = self.session.get(url, headers={"Accept": "application/json"})
        except requests.exceptions.RequestException as exc:
            raise network_error(exc, url)
        document = parse_json(response)
        if response.status_code != 200 or document is None:
            if response.status_code >= 500 or response.status_code == 429:
                raise self._error(response.status_code, document)
            raise ConfigurationError(
                "No OpenID Connect discovery document at %s (HTTP %s). Check authority (the issuer URL)."
                % (url, response.status_code), option="authority", http_status=response.status_code)
        if not document.get("token_endpoint"):
            raise ConfigurationError("The discovery document at %s names no token_endpoint." % url, option="authority")
        if document.get("issuer") and document["issuer"] != self.settings.authority:
            raise ConfigurationError(
                "authority %r does not equal the issuer %r the server announces; use the issuer exactly."
                % (self.settings.authority, document["issuer"]), option="authority")
        self._metadata = document
        return document

    def _client_auth(self, data: Dict[str, str]) -> Dict[str, str]:
        """Headers for client authentication; client_secret_post when basic is not offered."""
        headers = {"Accept": "application/json"}
        secret = (self.credential or {}).get("secret")
        if not secret:
            data["client_id"] = self.settings.client_id
            return headers
        methods = self.metadata().get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        if "client_secret_basic" in methods:
            # RFC 6749 2.3.1: form-encode both parts before Basic.
            pair = "%s:%s" % (quote(self.settings.client_id, safe=""), quote(secret, safe=""))
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
        else:
            data["client_id"] = self.settings.client_id
            data["client_secret"] = secret
        return headers

    def _post(self, endpoint: str, data: Dict[str, str]):
        """POST a form with client authentication: (status, JSON body or None, time the request left)."""
        requests = require("requests")
        self.session.forget()
        headers = self._client_auth(data)
        requested_at = time.time()
        try:
            response = self.session.post(endpoint, data=data, headers=headers)
        except requests.exceptions.RequestException as exc:
            raise network_error(exc, endpoint)
        return response.status_code, parse_json(response), requested_at

    def _token_request(self, data: Dict[str, str], inspect_error=None) -> TokenGrant:
        status, body, requested_at = self._post(self.metadata()["token_endpoint"], data)
        if status == 200 and body and body.get("access_token"):
            return TokenGrant.from_response(body, requested_at)
        if inspect_error is not None and body:
            special = inspect_error(body)
            if special is not None:
                raise special
        raise self._error(status, body)

    def _error(self, status: int, body):
        """The classified error of a refused request (a provider with its own error codes overrides this)."""
        return classify(status, body, self.session.last_retry_after, self.where())

    def client_credentials(self) -> TokenGrant:
        data = {"grant_type": "client_credentials"}
        if self.settings.scopes:
            data["scope"] = " ".join(self.settings.scopes)
        return self._token_request(data)

    def refresh(self, refresh_token: str) -> TokenGrant:
        # Without scope the server keeps the grant's scopes (RFC 6749 6).
        return self._token_request({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def start_device_flow(self) -> DeviceAuthorization:
        endpoint = self.metadata().get("device_authorization_endpoint")
        if not endpoint:
            raise ConfigurationError(
                "%s announces no device_authorization_endpoint: it does not offer flow device_code." % self.where(),
                option="flow")
        data: Dict[str, str] = {}
        if self.settings.scopes:
            data["scope"] = " ".join(self.settings.scopes)
        status, body, requested_at = self._post(endpoint, data)
        if status == 200 and body and body.get("device_code") and body.get("user_code"):
            return DeviceAuthorization.from_response(body, requested_at)
        raise self._error(status, body)

    def poll_device_flow(self, authorization: DeviceAuthorization) -> TokenGrant:
        return self._token_request(
            {"grant_type": DEVICE_GRANT_TYPE, "device_code": authorization.device_code},
            inspect_error=lambda body: device_poll_error(body.get("error"), body.get("error_description")))

    def _authorization_extras(self) -> Dict[str, str]:
        """OpenID Connect servers issue a refresh token for offline_access only with prompt=consent."""
        return {"prompt": "consent"} if "offline_access" in (self.settings.scopes or []) else {}

    def start_auth_code(self, signin):
        endpoint = self.metadata().get("authorization_endpoint")
        if not endpoint:
            raise ConfigurationError(
                "%s announces no authorization_endpoint: it does not offer flow auth_code." % self.where(),
                option="flow")
        params = {"response_type": "code", "client_id": self.settings.client_id, "redirect_uri": signin.redirect_uri}
        if self.settings.scopes:
            params["scope"] = " ".join(self.settings.scopes)
        if self.settings.username:
            params["login_hint"] = self.settings.username
        params.update(self._authorization_extras())
        params.update(signin.pkce_params())
        signin.authorization_url = authorization_url(endpoint, params)
        return signin

    def redeem_auth_code(self, signin, code: str) -> TokenGrant:
        return self._token_request({"grant_type": AUTH_CODE_GRANT, "code": code, "redirect_uri": signin.redirect_uri,
                                    "code_verifier": signin.code_verifier})
