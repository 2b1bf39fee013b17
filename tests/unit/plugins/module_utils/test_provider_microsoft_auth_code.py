# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Microsoft's browser sign-in through msal's auth code flow, against a fake HTTP layer.

Microsoft cannot run here: msal and our provider session run for real, and a requests transport adapter answers
as Entra ID does (discovery, then the token endpoint), recording what msal sent.
"""
from __future__ import annotations

import json
import urllib.parse

import pytest
import requests

from ansible_collections.xoauth2.mail.plugins.module_utils._auth_code_flow import AuthCodeSignIn, challenge
from ansible_collections.xoauth2.mail.plugins.module_utils._errors import ReauthRequired
from ansible_collections.xoauth2.mail.plugins.module_utils._providers import create_provider
from ansible_collections.xoauth2.mail.plugins.module_utils._settings import TokenSettings

TENANT = "contoso.onmicrosoft.com"
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
LOGIN = "https://login.microsoftonline.com/%s" % TENANT
REDIRECT = "http://localhost:8400/"
CONFIGURATION = {
    "authorization_endpoint": "https://login.microsoftonline.com/%s/oauth2/v2.0/authorize" % TENANT_ID,
    "token_endpoint": "https://login.microsoftonline.com/%s/oauth2/v2.0/token" % TENANT_ID,
    "issuer": "https://login.microsoftonline.com/%s/v2.0" % TENANT_ID,
    "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
}
TOKENS = {"token_type": "Bearer", "scope": "https://outlook.office.com/SMTP.Send", "expires_in": 4385,
          "ext_expires_in": 4385, "access_token": "eyJ0eXAiOiJKV1QiLCJub25jZSI6ImZha2UifQ.ms-access",
          "refresh_token": "0.AXEAv4j5cvGGr0GRqy180BHbR-ms-refresh"}
# Entra's answer to a code redeemed twice (recorded shape, trace ids shortened).
REDEEMED = {"error": "invalid_grant",
            "error_description": "AADSTS54005: OAuth2 Authorization code was already redeemed, please retry with "
                                 "a new valid code or use an existing refresh token. Trace ID: 0f1e Correlation ID: "
                                 "9a8b Timestamp: 2026-12-06 09:59:59Z",
            "error_codes": [54005], "timestamp": "2026-12-06 09:59:59Z", "trace_id": "0f1e",
            "correlation_id": "9a8b"}


class EntraAdapter(requests.adapters.BaseAdapter):
    def __init__(self, token_answer=(200, TOKENS)):
        super().__init__()
        self.token_answer = token_answer
        self.posts = []
        self.gets = []

    def send(self, request, **kwargs):
        url = request.url
        if request.method == "GET":
            self.gets.append(url)
            if "openid-configuration" in url:
                return self._answer(request, 200, CONFIGURATION)
            if "/discovery/instance" in url:
                return self._answer(request, 200, {
                    "tenant_discovery_endpoint": LOGIN + "/v2.0/.well-known/openid-configuration",
                    "api-version": "1.1", "metadata": []})
            return self._answer(request, 404, {"error": "not_found"})
        self.posts.append((url, dict(urllib.parse.parse_qsl(request.body))))
        return self._answer(request, *self.token_answer)

    @staticmethod
    def _answer(request, status, body):
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json"
        response.url = request.url
        response.request = request
        return response

    def close(self):
        pass


def provider_with(adapter, secret=None):
    settings = TokenSettings(provider="microsoft", tenant_id=TENANT, client_id="22222222-2222-2222-2222-222222222222",
                             flow="auth_code", username="scanner@contoso.com", client_secret=secret).resolved()
    provider = create_provider(settings, {"secret": secret} if secret else None)
    provider.session.mount("https://", adapter)
    return provider


@pytest.mark.parametrize("secret", [None, "web-app-secret"])
def test_msal_auth_code_flow_builds_a_pkce_url_and_redeems_the_code(secret):
    adapter = EntraAdapter()
    provider = provider_with(adapter, secret)
    signin = provider.start_auth_code(AuthCodeSignIn.new(REDIRECT))
    parts = urllib.parse.urlsplit(signin.authorization_url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    assert "%s://%s%s" % (parts.scheme, parts.netloc, parts.path) == CONFIGURATION["authorization_endpoint"]
    assert query["state"] == signin.state and query["redirect_uri"] == REDIRECT
    assert query["code_challenge_method"] == "S256" and query["code_challenge"] == challenge(signin.code_verifier)
    assert "https://outlook.office.com/SMTP.Send" in query["scope"].split() and "offline_access" in query["scope"]
    assert query["login_hint"] == "scanner@contoso.com" and "prompt" not in query  # Entra needs no consent prompt
    assert adapter.posts == []

    grant = provider.redeem_auth_code(signin, "0.AXEA-code")
    assert grant.access_token == TOKENS["access_token"] and grant.refresh_token == TOKENS["refresh_token"]
    (url, form), = adapter.posts
    assert url == CONFIGURATION["token_endpoint"]
    assert form["grant_type"] == "authorization_code" and form["code"] == "0.AXEA-code"
    assert form["code_verifier"] == signin.code_verifier and form["redirect_uri"] == REDIRECT
    assert ("client_secret" in form) == bool(secret)


def test_a_refused_code_is_reauth_required_without_secrets():
    adapter = EntraAdapter(token_answer=(400, REDEEMED))
    provider = provider_with(adapter)
    signin = provider.start_auth_code(AuthCodeSignIn.new(REDIRECT))
    with pytest.raises(ReauthRequired) as caught:
        provider.redeem_auth_code(signin, "0.AXEA-code")
    assert "54005" in (caught.value.code or "")
    text = json.dumps(caught.value.to_dict()) + str(caught.value)
    assert "0.AXEA-code" not in text and signin.code_verifier not in text
