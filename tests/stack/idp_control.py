# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Client of the test IdP: its /control API (counters, faults, settings, mint, revoke) and its real endpoints."""

from __future__ import annotations

import time

import device_pages
from stack_config import ACCOUNTS, CLIENTS, StackError


def http_session(ca_file: str | None):
    """A requests.Session that ignores REQUESTS_CA_BUNDLE & co and trusts ca_file."""
    import requests

    s = requests.Session()
    s.trust_env = False  # else REQUESTS_CA_BUNDLE overrides verify=
    if ca_file:
        s.verify = ca_file
    return s


class IdpControl:
    """Client for the IdP's /control API plus a few real-endpoint helpers."""

    def __init__(self, base_url: str, issuer: str, ca_file: str, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.issuer = issuer
        self.ca_file = ca_file
        self.timeout = timeout
        self.http = http_session(ca_file)

    # -- control API ------------------------------------------------------
    def _call(self, method: str, path: str, body: dict | None = None):
        r = self.http.request(method, f"{self.base_url}/control/{path}", json=body, timeout=self.timeout)
        if r.status_code >= 400:
            raise StackError(f"control {method} {path}: {r.status_code} {r.text}")
        return r.json()

    def health(self) -> dict:
        return self._call("GET", "health")

    def counters(self) -> dict:
        """``{"token": n, "token_by_grant_type": {...}, "token_by_client": {...},
        "discovery": n, "introspection": n, "device_authorization": n,
        "revocation": n, "jwks": n, "userinfo": n, "device_verification": n,
        "interaction": n, "other": n, "total": n}``"""
        return self._call("GET", "counters")

    def reset(self) -> None:
        """Zero the counters, clear faults, restore default settings (tokens stay)."""
        self._call("POST", "reset")

    def fault(self, endpoint: str = "token", mode: str = "status", status: int = 500,
              body=None, headers: dict | None = None, delay_ms: int = 0, count: int = -1) -> dict:
        """Inject a fault on ``endpoint`` (token, discovery, introspection,
        device_authorization, revocation, jwks, userinfo, any).

        mode: ``status`` (answer status/body/headers), ``hang`` (never answer
        until cleared), ``reset`` (close the connection), ``delay`` (wait
        delay_ms, then answer normally). count: how many requests (-1 = until
        cleared). A new fault replaces an older one on the same endpoint."""
        spec = {"endpoint": endpoint, "mode": mode, "status": status, "headers": headers or {},
                "delay_ms": delay_ms, "count": count}
        if body is not None:
            spec["body"] = body
        return self._call("POST", "fault", spec)

    def clear_faults(self) -> None:
        self._call("DELETE", "fault")

    def configure(self, **settings) -> dict:
        """Set access_token_ttl, client_credentials_ttl, refresh_token_ttl,
        device_code_ttl, device_interval (seconds). reset() restores defaults."""
        return self._call("POST", "config", settings)

    def settings(self) -> dict:
        return self._call("GET", "config")

    def mint(self, client_id: str = "device-public", account: str = "alice@example.test",
             scope: str = "openid offline_access mail.send mail.imap") -> dict:
        """A real grant + tokens made by the provider's models, as if the user
        had signed in (not counted as a token request). Returns access_token,
        refresh_token (when offline_access), expires_in, scope, grant_id."""
        return self._call("POST", "mint", {"client_id": client_id, "account": account, "scope": scope})

    def revoke(self, account: str | None = None, client_id: str | None = None,
               grant_id: str | None = None) -> dict:
        """Revoke every grant and token of an account, a client or one grant."""
        body = {k: v for k, v in (("account", account), ("client_id", client_id),
                                  ("grant_id", grant_id)) if v}
        return self._call("POST", "revoke", body)

    def inspect(self, token: str) -> dict:
        """Look a token up without touching counters: {active, kind, sub, username, ...}."""
        return self._call("POST", "introspect", {"token": token})

    # -- real endpoints (these count) -------------------------------------
    @property
    def token_url(self) -> str:
        return f"{self.issuer}/token"

    def _auth(self, client_id: str):
        secret = CLIENTS.get(client_id)
        return (client_id, secret) if secret else None

    def _post_as_client(self, url: str, client_id: str, data: dict):
        """POST with basic auth for a confidential client, ``client_id`` in the form for a public one."""
        auth = self._auth(client_id)
        if auth is None:
            data["client_id"] = client_id
        return self.http.post(url, data=data, auth=auth, timeout=self.timeout)

    def token_request(self, client_id: str, **params):
        """POST to the token endpoint (basic auth for confidential clients).
        Returns the requests.Response."""
        return self._post_as_client(self.token_url, client_id, dict(params))

    def client_credentials(self, client_id: str = "relay-app", scope: str = "mail.send") -> dict:
        r = self.token_request(client_id, grant_type="client_credentials", scope=scope)
        r.raise_for_status()
        return r.json()

    def refresh(self, refresh_token: str, client_id: str = "device-public", scope: str | None = None):
        """Refresh; returns the requests.Response (check status / json)."""
        params = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if scope:
            params["scope"] = scope
        return self.token_request(client_id, **params)

    def introspect(self, token: str, client_id: str = "dovecot") -> dict:
        """RFC 7662 introspection as Dovecot does it (counts)."""
        r = self.http.post(f"{self.issuer}/token/introspection", data={"token": token},
                           auth=self._auth(client_id), timeout=self.timeout)
        r.raise_for_status()
        return r.json()

    def start_device(self, client_id: str = "device-public",
                     scope: str = "openid offline_access mail.send mail.imap") -> dict:
        """Device authorization request; returns device_code, user_code,
        verification_uri(_complete), expires_in, interval, message."""
        r = self._post_as_client(f"{self.issuer}/device/auth", client_id, {"scope": scope})
        r.raise_for_status()
        return r.json()

    def poll_device(self, device_code: str, client_id: str = "device-public", timeout: float = 30.0) -> dict:
        """Poll the token endpoint until the device code resolves; returns the
        final JSON (tokens, or {"error": ...} other than authorization_pending)."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.token_request(client_id, grant_type="urn:ietf:params:oauth:grant-type:device_code",
                                   device_code=device_code)
            body = r.json()
            if body.get("error") not in ("authorization_pending", "slow_down"):
                return body
            if time.monotonic() > deadline:
                return body
            time.sleep(0.2)

    def approve_device(self, user_code: str, account: str = "alice@example.test",
                       password: str | None = None, deny: bool = False) -> bool:
        """Drive the device pages with plain HTTP like a person would: code
        form, confirm, login, consent. ``deny=True`` aborts at the confirm
        page (the device then gets ``access_denied``). Returns True when
        approved, False when denied; raises DeviceApprovalError otherwise
        (wrong code, wrong password, ...)."""
        if password is None:
            password = ACCOUNTS.get(account, "")
        return device_pages.approve(http_session(self.ca_file), self.issuer, user_code, account, password,
                                    deny=deny, timeout=self.timeout)
