# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The managed host's half of the browser sign-in: PKCE, the loopback redirect check, the answer, the sealed store."""
from __future__ import annotations

import os
import re

import pytest

from ansible_collections.xoauth2.mail.plugins.module_utils._auth_code_flow import (
    AuthCodeSignIn,
    SignInStore,
    challenge,
    check_redirect_uri,
    new_verifier,
    parse_redirect,
)
from ansible_collections.xoauth2.mail.plugins.module_utils._errors import ConfigurationError, ReauthRequired
from ansible_collections.xoauth2.mail.plugins.module_utils._settings import TokenSettings
from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile

REDIRECT = "http://127.0.0.1:8400/"


def test_s256_challenge_matches_rfc_7636_appendix_b():
    assert challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_verifiers_are_long_random_and_unreserved():
    verifiers = {new_verifier() for dummy in range(50)}
    assert len(verifiers) == 50
    assert all(43 <= len(v) <= 128 and re.fullmatch(r"[A-Za-z0-9\-._~]+", v) for v in verifiers)


@pytest.mark.parametrize("uri, port, path", [
    ("http://127.0.0.1/", 0, "/"), ("http://127.0.0.1:8400/callback", 8400, "/callback"),
    ("http://localhost", 0, "/"), ("http://[::1]:9000/", 9000, "/"), ("http://127.0.0.2:1/", 1, "/"),
])
def test_loopback_redirects_are_accepted(uri, port, path):
    target = check_redirect_uri(uri)
    assert (target["port"], target["path"]) == (port, path)


@pytest.mark.parametrize("uri", [
    "https://127.0.0.1:8400/", "http://mail.example.com/", "http://10.0.0.1/", "http://127.0.0.1.example.com/",
    "http://127.0.0.1:8400/?x=1", "http://127.0.0.1:99999/", "urn:ietf:wg:oauth:2.0:oob", "", None,
])
def test_redirects_that_are_not_loopback_are_a_named_error(uri):
    with pytest.raises(ConfigurationError) as caught:
        check_redirect_uri(uri)
    assert caught.value.option == "auth_code_redirect_uri" and "loopback" in str(caught.value)


def test_the_answer_gives_the_code_when_the_state_matches():
    assert parse_redirect(REDIRECT + "?code=abc&state=s1&iss=x", "s1", REDIRECT) == "abc"


@pytest.mark.parametrize("answer, code", [
    ("?code=abc&state=other", "state_mismatch"),
    ("?code=abc", "state_mismatch"),
    ("?error=access_denied&state=other", "state_mismatch"),  # a forged denial is not believed either
    ("?error=access_denied&error_description=End-User+aborted+interaction&state=s1", "access_denied"),
    ("?error=invalid_scope&state=s1", "invalid_scope"),
    ("?state=s1", "no_code"),
])
def test_bad_answers_are_named_and_never_repeat_the_code(answer, code):
    with pytest.raises(ReauthRequired) as caught:
        parse_redirect(REDIRECT + answer, "s1", REDIRECT)
    assert caught.value.code == code
    assert "abc" not in str(caught.value)


def test_an_answer_for_another_address_is_refused():
    with pytest.raises(ConfigurationError) as caught:
        parse_redirect("http://127.0.0.1:9999/?code=abc&state=s1", "s1", REDIRECT)
    assert caught.value.option == "auth_code_response" and "abc" not in str(caught.value)


def test_timeout_is_a_named_error():
    signin = AuthCodeSignIn.new(REDIRECT, now=1000.0)
    signin.timeout = 60
    signin.check_not_expired(1059.0)
    with pytest.raises(ReauthRequired) as caught:
        signin.check_not_expired(1061.0)
    assert caught.value.code == "auth_code_timeout"


def test_the_pending_sign_in_is_sealed_and_removed_with_the_token(tmp_path):
    key = os.urandom(32)
    path = str(tmp_path / "person.token")
    signin = AuthCodeSignIn.new(REDIRECT)
    signin.extra = {"msal_flow": {"code_verifier": signin.code_verifier}}
    store = SignInStore(path, key)
    store.save(signin)
    raw = open(path + ".signin", "rb").read()
    assert signin.code_verifier.encode() not in raw and signin.state.encode() not in raw
    assert store.load() == signin
    # state=absent lists and removes it with the token's other side files.
    assert TokenFile(path, key).existing_files(temps=True) == [path + ".signin"]
    TokenFile(path, key).remove()
    assert not os.path.exists(path + ".signin")


def test_auth_code_is_a_delegated_flow_for_every_provider():
    for provider, extra in (("oidc", {"authority": "https://idp.example.test/realm"}),
                            ("microsoft", {"tenant_id": "contoso.onmicrosoft.com"}),
                            ("google", {"client_secret": "desktop-secret"})):
        settings = TokenSettings(provider=provider, client_id="app", flow="auth_code", **extra).resolved()
        assert settings.flow == "auth_code"
    google = TokenSettings(provider="google", client_id="app", flow="auth_code").resolved()
    assert google.scopes == ["https://mail.google.com/"]


def test_google_device_flow_error_points_to_the_browser_sign_in():
    with pytest.raises(ConfigurationError) as caught:
        TokenSettings(provider="google", client_id="app", flow="device_code").resolved()
    assert "flow auth_code" in str(caught.value)
