# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""provider google: the JWT bearer assertion, built-in endpoints, Gmail refresh tokens, the sealed key."""
from __future__ import annotations

import json
import os

import jwt
import pytest
from google_support import (
    GOOGLE_TOKEN_URL, SA_EMAIL, RecordingSession, key_body, key_document, new_rsa_key, token_answer)

from ansible_collections.xoauth2.mail.plugins.module_utils._errors import ConfigurationError, ReauthRequired
from ansible_collections.xoauth2.mail.plugins.module_utils._provider_google import GoogleProvider
from ansible_collections.xoauth2.mail.plugins.module_utils._providers import PROVIDER_CLASSES
from ansible_collections.xoauth2.mail.plugins.module_utils._session import TokenSession
from ansible_collections.xoauth2.mail.plugins.module_utils._settings import TokenSettings

MAILBOX = "alerts@example.com"


@pytest.fixture(scope="module")
def rsa_key():
    return new_rsa_key()


@pytest.fixture
def document(rsa_key):
    return key_document(rsa_key)


@pytest.fixture
def key_path(tmp_path, document):
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(document))
    return str(path)


class Factory:
    """provider_factory for TokenSession: a real GoogleProvider on a recording session."""

    def __init__(self, answers):
        self.http = RecordingSession(answers)
        self.credentials = []

    def __call__(self, settings, credential):
        self.credentials.append(credential)
        return GoogleProvider(settings, credential, self.http)


def sa_session(token_file, factory, **overrides):
    values = dict(provider="google", flow="service_account", username=MAILBOX, timeout=5, retries=0)
    values.update(overrides)
    return TokenSession(TokenSettings(**values), token_file, provider_factory=factory)


def test_google_is_registered():
    assert PROVIDER_CLASSES["google"] is GoogleProvider


def test_service_account_assertion_is_rfc7523_signed_by_the_key(token_file, key_path, rsa_key, document):
    factory = Factory([token_answer()])
    outcome = sa_session(token_file, factory, service_account_key_file=key_path).ensure_valid(600)
    assert outcome.action == "acquired"
    assert factory.http.gets == []  # Google's endpoints are built in: no discovery request
    [post] = factory.http.posts
    assert post["url"] == GOOGLE_TOKEN_URL
    assert set(post["data"]) == {"grant_type", "assertion"}  # no client_id, no secret: the assertion authenticates
    assert post["data"]["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert "Authorization" not in post["headers"]
    assertion = post["data"]["assertion"]
    header = jwt.get_unverified_header(assertion)
    assert header["alg"] == "RS256" and header["kid"] == document["private_key_id"]
    claims = jwt.decode(assertion, rsa_key.public_key(), algorithms=["RS256"], audience=GOOGLE_TOKEN_URL)
    assert claims["iss"] == SA_EMAIL and claims["sub"] == MAILBOX
    assert claims["scope"] == "https://mail.google.com/"
    assert 0 < claims["exp"] - claims["iat"] <= 3600
    record = outcome.record
    assert record.meta["client_id"] == SA_EMAIL and record.meta["authority"] == "https://accounts.google.com"
    assert record.meta["flow"] == "service_account" and not record.refresh_token
    assert record.secrets["client_credential"]["service_account"]["private_key_id"] == document["private_key_id"]


def test_another_authority_stands_in_for_google_and_is_the_audience(token_file, key_path, rsa_key):
    issuer = "https://127.0.0.1:9443/idp"
    discovery = {"issuer": issuer, "token_endpoint": issuer + "/token"}
    factory = Factory([(200, discovery), token_answer()])
    sa_session(token_file, factory, service_account_key_file=key_path, authority=issuer).ensure_valid(600)
    assert factory.http.gets == [issuer + "/.well-known/openid-configuration"]
    [post] = factory.http.posts
    assert post["url"] == issuer + "/token"
    jwt.decode(post["data"]["assertion"], rsa_key.public_key(), algorithms=["RS256"], audience=issuer + "/token")


def test_renewal_signs_again_with_the_sealed_key_alone(token_file, key_path, rsa_key):
    sa_session(token_file, Factory([token_answer("ya29.first")]), service_account_key_file=key_path).ensure_valid(600)
    # As the relay and the lookup do it: no option at all, everything from the token file.
    factory = Factory([token_answer("ya29.second")])
    outcome = TokenSession(TokenSettings(retries=0), token_file, provider_factory=factory).ensure_valid(600, force=True)
    assert outcome.action == "acquired" and outcome.record.access_token == "ya29.second"
    [post] = factory.http.posts
    claims = jwt.decode(post["data"]["assertion"], rsa_key.public_key(), algorithms=["RS256"],
                        audience=GOOGLE_TOKEN_URL)
    assert claims["sub"] == MAILBOX


def test_sealed_key_is_not_used_for_another_service_account(token_file, key_path):
    sa_session(token_file, Factory([token_answer()]), service_account_key_file=key_path).ensure_valid(600)
    factory = Factory([])
    with pytest.raises(ConfigurationError) as caught:
        sa_session(token_file, factory, client_id="other@example-project.iam.gserviceaccount.com").ensure_valid(600)
    assert caught.value.option == "service_account_key_file"
    assert factory.credentials == [None] and factory.http.posts == []


def test_a_new_key_of_the_same_account_renews_and_is_sealed(token_file, key_path, tmp_path):
    sa_session(token_file, Factory([token_answer()]), service_account_key_file=key_path).ensure_valid(600)
    rotated = key_document(new_rsa_key(), private_key_id="1" * 40)
    path = tmp_path / "rotated.json"
    path.write_text(json.dumps(rotated))
    factory = Factory([token_answer("ya29.rotated")])
    outcome = sa_session(token_file, factory, service_account_key_file=str(path)).ensure_valid(600)
    assert outcome.action == "acquired" and outcome.reason == "the client credential changed"
    assert token_file.read().secrets["client_credential"]["service_account"]["private_key_id"] == "1" * 40
    # The same key again: nothing to do, no request.
    assert sa_session(token_file, Factory([]), service_account_key_file=str(path)).ensure_valid(600).action == "none"


def test_key_as_content_or_parsed_dict(token_file, document):
    for content in (json.dumps(document), document):
        factory = Factory([token_answer()])
        outcome = sa_session(token_file, factory, service_account_key=content).ensure_valid(600, force=True)
        assert outcome.changed and len(factory.http.posts) == 1


def test_gmail_refresh_token_is_kept_when_google_sends_none(token_file):
    """Google does not rotate refresh tokens: an answer without one keeps the stored one."""
    first = Factory([token_answer("ya29.a")])
    settings = dict(provider="google", client_id="123-abc.apps.googleusercontent.com", client_secret="GOCSPX-secret",
                    refresh_token="1//seed-refresh-token", username="person@gmail.com", timeout=5, retries=0)
    outcome = TokenSession(TokenSettings(**settings), token_file, provider_factory=first).ensure_valid(600)
    assert outcome.action == "acquired" and outcome.record.refresh_token == "1//seed-refresh-token"
    [post] = first.http.posts
    assert post["url"] == GOOGLE_TOKEN_URL and post["data"]["grant_type"] == "refresh_token"
    assert post["data"]["refresh_token"] == "1//seed-refresh-token"
    assert post["headers"]["Authorization"].startswith("Basic ")  # the client secret, never in the form
    second = Factory([token_answer("ya29.b")])
    outcome = TokenSession(TokenSettings(timeout=5, retries=0), token_file, provider_factory=second).ensure_valid(
        600, force=True)
    assert outcome.action == "refreshed" and outcome.record.access_token == "ya29.b"
    assert second.http.posts[0]["data"]["refresh_token"] == "1//seed-refresh-token"
    assert token_file.read().refresh_token == "1//seed-refresh-token"


def test_expired_gmail_grant_says_why_and_keeps_the_file(token_file):
    settings = dict(provider="google", client_id="123-abc.apps.googleusercontent.com", client_secret="GOCSPX-secret",
                    refresh_token="1//seed", username="person@gmail.com", timeout=5, retries=0)
    TokenSession(TokenSettings(**settings), token_file, provider_factory=Factory([token_answer()])).ensure_valid(600)
    before = open(token_file.path, "rb").read()
    dead = Factory([(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})])
    with pytest.raises(ReauthRequired) as caught:
        TokenSession(TokenSettings(timeout=5, retries=0), token_file, provider_factory=dead).ensure_valid(
            600, force=True)
    assert "7 days" in str(caught.value) and "Testing" in str(caught.value)
    assert open(token_file.path, "rb").read() == before


def test_unauthorized_service_account_names_the_admin_console_step(token_file, key_path, document):
    factory = Factory([(401, {"error": "unauthorized_client", "error_description": (
        "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of "
        "the scopes requested.")})])
    with pytest.raises(ConfigurationError) as caught:
        sa_session(token_file, factory, service_account_key_file=key_path).ensure_valid(600)
    text = str(caught.value)
    assert "Domain-wide delegation" in text and document["client_id"] in text and "https://mail.google.com/" in text
    assert key_body(document)[:40] not in text
    assert not os.path.exists(token_file.path)


def test_a_key_that_parses_but_cannot_sign_is_a_named_error(token_file, tmp_path, rsa_key):
    """The cheap parse on every run skips RSA's consistency check; signing does it and must fail cleanly."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    numbers = rsa_key.private_numbers()
    inconsistent = rsa.RSAPrivateNumbers(
        p=numbers.p, q=numbers.q, d=numbers.d + 2, dmp1=numbers.dmp1, dmq1=numbers.dmq1, iqmp=numbers.iqmp,
        public_numbers=numbers.public_numbers).private_key(unsafe_skip_rsa_key_validation=True)
    document = key_document(rsa_key)
    document["private_key"] = inconsistent.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    path = tmp_path / "inconsistent.json"
    path.write_text(json.dumps(document))
    factory = Factory([])
    with pytest.raises(ConfigurationError) as caught:
        sa_session(token_file, factory, service_account_key_file=str(path)).ensure_valid(600)
    assert caught.value.option == "service_account_key_file" and "cannot sign" in str(caught.value)
    assert key_body(document)[:40] not in str(caught.value)
    assert factory.http.posts == [] and not os.path.exists(token_file.path)
