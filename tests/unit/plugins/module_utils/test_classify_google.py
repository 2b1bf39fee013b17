# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Google's recorded error answers: the right category, the option to fix, and the fix in the message."""
from __future__ import annotations

import json
import os

import pytest

from ansible_collections.xoauth2.mail.plugins.module_utils._classify import classify_google

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "google_errors.json")

# name -> (category, option, words the message must contain)
EXPECTED = {
    "user_expired_or_revoked": ("reauth_required", None, ["Token has been expired or revoked", "Testing",
                                                          "7 days", "sign in to Google again"]),
    "user_invalid_rapt": ("reauth_required", None, ["invalid_rapt", "Re-authentication is required by policy"]),
    "user_admin_policy_enforced": ("configuration", None, ["App access control", "Trusted",
                                                           "a new sign-in alone does not help"]),
    "user_invalid_client": ("configuration", "client_secret", ["client secret"]),
    "user_deleted_client": ("configuration", "client_id", ["deleted"]),
    "user_unauthorized_client": ("configuration", "client_id", ["another OAuth client"]),
    "user_invalid_scope": ("configuration", "scopes", ["https://mail.google.com/"]),
    "sa_not_delegated": ("configuration", None, ["Domain-wide delegation", "104200000000000000001",
                                                 "https://mail.google.com/", "alerts@example.com"]),
    "sa_bad_signature": ("configuration", "service_account_key_file", ["deleted or disabled", "new JSON key"]),
    "sa_unknown_user": ("configuration", "username", ["alerts@example.com", "not a user"]),
    "sa_clock": ("configuration", None, ["clock"]),
    "sa_account_not_found": ("configuration", "service_account_key_file", ["deleted or disabled"]),
    "sa_invalid_client": ("configuration", "service_account_key_file", ["deleted or disabled"]),
    "sa_admin_policy_enforced": ("configuration", None, ["App access control"]),
    "rate_limited": ("temporary", None, ["rate limiting"]),
    "backend_error": ("temporary", None, ["temporarily unavailable"]),
    "html_502": ("temporary", None, ["temporarily unavailable"]),
}


def recorded():
    with open(FIXTURES) as handle:
        data = json.load(handle)
    data.pop("_comment")
    return data


def context(flow):
    return {"flow": flow, "client_id": "mail-relay@example-project.iam.gserviceaccount.com",
            "service_account_id": "104200000000000000001", "username": "alerts@example.com",
            "scopes": "https://mail.google.com/", "key_option": "service_account_key_file"}


def test_every_recorded_answer_is_covered():
    assert set(recorded()) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_google_errors_are_classified(name):
    sample = recorded()[name]
    retry_after = float(sample.get("headers", {}).get("Retry-After", 0)) or None
    error = classify_google(sample["status"], sample["body"], retry_after, "Google", context(sample["flow"]))
    category, option, words = EXPECTED[name]
    assert (error.category, error.option) == (category, option), str(error)
    for word in words:
        assert word in str(error), (word, str(error))
    assert error.http_status == sample["status"]
    if retry_after:
        assert error.retry_after == retry_after


def test_service_account_invalid_grant_never_asks_a_person_to_sign_in():
    """A service account has no person behind it: its invalid_grant is always a configuration to fix."""
    for description in ("Invalid JWT Signature.", "Invalid email or User ID", "something new from Google", None):
        body = {"error": "invalid_grant", "error_description": description}
        error = classify_google(400, body, None, "Google", context("service_account"))
        assert error.category == "configuration", description


def test_key_option_follows_what_was_given():
    given = dict(context("service_account"), key_option="service_account_key")
    error = classify_google(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, None,
                            "Google", given)
    assert error.option == "service_account_key"


def test_unknown_google_error_falls_back_to_the_general_rules():
    error = classify_google(400, {"error": "unsupported_grant_type"}, None, "Google", context("refresh_token"))
    assert error.category == "configuration" and error.option == "flow"
