# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The test IdP's Google-style revocation (/idp/revoke) and the refresh answer after it, as Google words them."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

GMAIL_SCOPE = "https://mail.google.com/"
DEAD = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}


def revoke(stack, token, in_query=False):
    # Google's endpoint: a form POST with token=, no client authentication
    url = stack.issuer + "/revoke"
    if in_query:
        return stack.http().post(url, params={"token": token}, timeout=10)
    return stack.http().post(url, data={"token": token}, timeout=10)


def refresh(stack, refresh_token):
    return stack.http().post(stack.token_url, auth=("google-desktop", "google-desktop-secret"), timeout=10,
                             data={"grant_type": "refresh_token", "refresh_token": refresh_token})


@pytest.fixture
def grant(idp):
    # a Gmail user's grant: Google gives a refresh token without offline_access
    minted = idp.mint(client_id="google-desktop", account="alice@example.test", scope=GMAIL_SCOPE)
    assert minted.get("refresh_token"), minted
    return minted


@pytest.mark.parametrize("which, in_query", [("access_token", False), ("refresh_token", False),
                                             ("access_token", True)])
def test_revoking_either_token_ends_the_whole_grant(stack, idp, grant, which, in_query):
    answer = revoke(stack, grant[which], in_query)
    assert answer.status_code == 200, answer.text
    assert idp.inspect(grant["access_token"])["active"] is False
    dead = refresh(stack, grant["refresh_token"])
    assert (dead.status_code, dead.json()) == (400, DEAD)
    assert idp.counters()["revocation"] == 1


def test_before_revocation_the_grant_refreshes(stack, idp, grant):
    answer = refresh(stack, grant["refresh_token"])
    assert answer.status_code == 200, answer.text
    assert idp.inspect(answer.json()["access_token"])["username"] == "alice@example.test"


def test_an_unknown_or_already_revoked_token_is_refused_like_google(stack, idp, grant):
    assert revoke(stack, grant["access_token"]).status_code == 200
    again = revoke(stack, grant["access_token"])
    assert (again.status_code, again.json()["error"]) == (400, "invalid_token")
    unknown = revoke(stack, "not-a-token")
    assert (unknown.status_code, unknown.json()["error"]) == (400, "invalid_token")


def test_other_clients_keep_oidc_providers_own_answers(stack, idp):
    # not Google-flavoured: /idp/revoke does not know the token, and the grant lives on
    minted = idp.mint(client_id="device-public", account="alice@example.test")
    assert revoke(stack, minted["access_token"]).status_code == 400
    assert idp.inspect(minted["access_token"])["active"] is True
    idp.revoke(grant_id=minted["grant_id"])
    answer = idp.refresh(minted["refresh_token"], client_id="device-public")
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    assert answer.json().get("error_description") != DEAD["error_description"]
