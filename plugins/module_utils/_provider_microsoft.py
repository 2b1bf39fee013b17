# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Microsoft identity platform (Entra ID) through msal.

Any other issuer (a standard OIDC server, e.g. the test provider) goes through
msal's ``oidc_authority``. msal quirks handled here:
- it memorizes 429/5xx/400 answers and replays them without calling the
  server; our retries must reach the server, so POST answers are not memorized;
- a 5xx raises instead of returning an error dict;
- reserved scopes (openid, profile, offline_access) must not be passed in.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, Dict, List, Optional
from urllib.parse import urlparse

from ._classify import classify
from ._dependencies import require
from ._device_flow import DeviceAuthorization, device_poll_error
from ._errors import ConfigurationError, TemporaryError
from ._http import network_error
from ._provider_base import Provider
from ._token_record import TokenGrant

RESERVED_SCOPES = {"openid", "profile", "offline_access"}
MICROSOFT_HOSTS = (
    "login.microsoftonline.com",
    "login.microsoftonline.us",
    "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn",
    "login.microsoft.com",
    "login.windows.net",
    "login.sts.microsoft.com",
)
MICROSOFT_HOST_SUFFIXES = (".b2clogin.com", ".ciamlogin.com")


def is_microsoft_authority(url: str) -> bool:
    host = (urlparse(url).hostname or "").lower()
    return host in MICROSOFT_HOSTS or host.endswith(MICROSOFT_HOST_SUFFIXES)


class _ForgetfulCache(dict):
    """msal's http_cache, minus POST answers: our retries must reach the server."""

    def __setitem__(self, key, value):
        if isinstance(key, str) and key.startswith("POST "):
            return
        super().__setitem__(key, value)


class MicrosoftProvider(Provider):
    name = "microsoft"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._app = None

    def _scopes(self) -> List[str]:
        return [s for s in (self.settings.scopes or []) if s not in RESERVED_SCOPES]

    def _msal_credential(self) -> Optional[Any]:
        if not self.credential:
            return None
        if "secret" in self.credential:
            return self.credential["secret"]
        return dict(self.credential["certificate"])

    def _application(self):
        if self._app is not None:
            return self._app
        msal = require("msal")
        authority = self.settings.authority
        kwargs: Dict[str, Any] = {"http_client": self.session, "http_cache": _ForgetfulCache()}
        if is_microsoft_authority(authority):
            kwargs["authority"] = authority
        else:
            kwargs["oidc_authority"] = authority
        credential = self._msal_credential()
        if credential is not None:
            app = msal.ConfidentialClientApplication(self.settings.client_id, client_credential=credential, **kwargs)
        else:
            app = msal.PublicClientApplication(self.settings.client_id, **kwargs)
        self._app = app
        return app

    def _run(self, call) -> TokenGrant:
        requested_at = time.time()
        result = self._call(call)
        if result.get("access_token"):
            return TokenGrant.from_response(result, requested_at)
        raise classify(self.session.last_status, result, self.session.last_retry_after, self.where())

    def _call(self, call) -> Dict[str, Any]:
        """msal's answer as a dict, its exceptions turned into classified errors."""
        msal = require("msal")
        requests = require("requests")
        self.session.forget()
        try:
            result = call(self._application())
        except requests.exceptions.RequestException as exc:
            raise network_error(exc, self.settings.authority)
        except msal.exceptions.MsalServiceError:
            # msal raises on a 5xx instead of returning the error body.
            raise classify(self.session.last_status or 500, None, self.session.last_retry_after, self.where())
        except ValueError as exc:
            # msal wraps a failed discovery of the authority in ValueError (and a non-JSON answer too).
            raise self._discovery_error(exc)
        if not isinstance(result, dict):
            raise TemporaryError("msal returned no answer from %s." % self.where())
        return result

    def _discovery_error(self, exc: ValueError):
        status = self.session.last_status
        if self.session.last_network_error is not None:
            return network_error(self.session.last_network_error, self.settings.authority)
        if status is not None and (status >= 500 or status == 429):
            return classify(status, None, self.session.last_retry_after, self.where())
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else "discovery failed"
        return ConfigurationError(
            "The authority %s could not be used: %s" % (self.settings.authority, first),
            option="authority", http_status=status)

    def client_credentials(self) -> TokenGrant:
        return self._run(lambda app: app.acquire_token_for_client(scopes=self._scopes()))

    def refresh(self, refresh_token: str) -> TokenGrant:
        return self._run(lambda app: app.acquire_token_by_refresh_token(refresh_token, scopes=self._scopes()))

    def start_device_flow(self) -> DeviceAuthorization:
        if self.credential:
            raise ConfigurationError(
                "flow device_code uses a public client for provider microsoft: leave out client_secret and "
                "client_certificate.", option="client_secret")
        requested_at = time.time()
        flow = self._call(lambda app: app.initiate_device_flow(scopes=self._scopes()))
        if not flow.get("user_code") or not flow.get("device_code"):
            raise classify(self.session.last_status, flow, self.session.last_retry_after, self.where())
        authorization = DeviceAuthorization.from_response(flow, requested_at)
        authorization.extra = {"msal_flow": flow}
        return authorization

    def poll_device_flow(self, authorization: DeviceAuthorization) -> TokenGrant:
        flow = dict(authorization.extra.get("msal_flow") or {})
        flow.update(device_code=authorization.device_code, interval=authorization.interval, latest_attempt_at=0)
        requested_at = time.time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # we keep the pace ourselves
            # exit_condition=True: one request per call; our loop sleeps interval and honours slow_down.
            result = self._call(lambda app: app.acquire_token_by_device_flow(flow, exit_condition=lambda _flow: True))
        if result.get("access_token"):
            return TokenGrant.from_response(result, requested_at)
        special = device_poll_error(result.get("error"), result.get("error_description"))
        if special is not None:
            raise special
        raise classify(self.session.last_status, result, self.session.last_retry_after, self.where())

    def start_auth_code(self, signin):
        """msal's auth code flow (PKCE S256, its own nonce); our ``state`` goes in, msal's verifier is kept."""
        # msal always asks for offline_access; a standard OpenID Connect issuer grants it only with
        # prompt=consent (OpenID Connect Core 11), Entra without it.
        prompt = None if is_microsoft_authority(self.settings.authority) else "consent"
        with warnings.catch_warnings():
            # msal recommends response_mode=form_post for web apps; a loopback listener (RFC 8252) takes the query.
            warnings.simplefilter("ignore")
            flow = self._call(lambda app: app.initiate_auth_code_flow(
                scopes=self._scopes(), redirect_uri=signin.redirect_uri, state=signin.state,
                login_hint=self.settings.username, prompt=prompt))
        if not flow.get("auth_uri") or not flow.get("code_verifier"):
            raise classify(self.session.last_status, flow, self.session.last_retry_after, self.where())
        signin.authorization_url = flow["auth_uri"]
        signin.code_verifier = flow["code_verifier"]
        signin.extra = {"msal_flow": flow}
        return signin

    def redeem_auth_code(self, signin, code: str) -> TokenGrant:
        flow = dict(signin.extra.get("msal_flow") or {})
        # The state was already compared (constant time) against the sealed one.
        return self._run(lambda app: app.acquire_token_by_auth_code_flow(
            flow, {"code": code, "state": signin.state}, scopes=self._scopes()))
