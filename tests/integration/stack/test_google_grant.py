# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The test IdP's JWT bearer grant (RFC 7523) behaves like Google's where the collection depends on it."""
from __future__ import annotations

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

pytestmark = pytest.mark.integration

GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SA = "mail-relay@xoauth2-test.iam.gserviceaccount.com"
NOT_DELEGATED = ("Client is unauthorized to retrieve access tokens using this method, or client not authorized for "
                 "any of the scopes requested.")
SHORT_LIVED = "Invalid JWT: Token must be a short-lived token (60 minutes)"


@pytest.fixture(scope="module")
def key(stack):
    with open(stack.service_account_key_file(SA)) as handle:
        return json.load(handle)


def assertion(key, stack, private_key=None, headers=None, age=0, lifetime=3600, **changes):
    """Claims as the collection signs them; ``age`` moves iat into the past, both relative to now."""
    now = int(time.time()) - age
    claims = {"iss": key["client_email"], "sub": "alice@example.test", "scope": "https://mail.google.com/",
              "aud": stack.token_url, "iat": now, "exp": now + lifetime}
    claims.update(changes)
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(claims, private_key or key["private_key"], algorithm="RS256",
                      headers=headers or {"kid": key["private_key_id"]})


def post(stack, token):
    # No client authentication at all: the signed assertion is the authentication, as at Google.
    return stack.http().post(stack.token_url, data={"grant_type": GRANT, "assertion": token}, timeout=10)


def test_delegated_mailbox_gets_an_opaque_token_for_that_mailbox(stack, idp, key):
    answer = post(stack, assertion(key, stack))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"access_token", "expires_in", "token_type"} and body["token_type"] == "Bearer"
    assert body["access_token"].count(".") == 0  # opaque, not a JWT
    facts = idp.introspect(body["access_token"])
    assert facts["active"] is True and facts["username"] == "alice@example.test"
    assert idp.counters()["token_by_grant_type"][GRANT] == 1


OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.mark.parametrize("name, changes, status, error, description", [
    ("signed by another key", {"private_key": OTHER_KEY}, 400, "invalid_grant", "Invalid JWT Signature."),
    ("unknown key id", {"headers": {"kid": "0" * 40}}, 400, "invalid_grant", "Invalid JWT Signature."),
    ("wrong audience", {"aud": "https://oauth2.googleapis.com/token"}, 400, "invalid_grant", "audience"),
    ("longer than an hour", {"lifetime": 3601}, 400, "invalid_grant", SHORT_LIVED),
    ("expired", {"age": 7200}, 400, "invalid_grant", SHORT_LIVED),
    ("unknown service account", {"iss": "ghost@xoauth2-test.iam.gserviceaccount.com"}, 400, "invalid_grant",
     "account not found"),
    ("unknown user", {"sub": "nobody@example.test"}, 400, "invalid_grant", "Invalid email or User ID"),
    ("not delegated for the mailbox", {"sub": "carol@example.test"}, 401, "unauthorized_client", NOT_DELEGATED),
    ("not delegated for the scope", {"scope": "https://www.googleapis.com/auth/gmail.send"}, 401,
     "unauthorized_client", NOT_DELEGATED),
    ("no scope", {"scope": ""}, 400, "invalid_scope", "Empty or missing scope"),
])
def test_refusals_have_googles_shapes(stack, idp, key, name, changes, status, error, description):
    answer = post(stack, assertion(key, stack, **changes))
    assert answer.status_code == status, (name, answer.text)
    body = answer.json()
    assert body["error"] == error and description in body["error_description"], (name, body)


def test_an_hs256_assertion_with_a_guessable_secret_is_refused(stack, idp, key):
    now = int(time.time())
    token = jwt.encode({"iss": SA, "sub": "alice@example.test", "scope": "https://mail.google.com/",
                        "aud": stack.token_url, "iat": now, "exp": now + 600}, "x" * 32, algorithm="HS256",
                       headers={"kid": key["private_key_id"]})
    answer = post(stack, token)
    assert answer.status_code == 400 and answer.json()["error_description"] == "Invalid JWT Signature."
