# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.xoauth2.mail.plugins.module_utils._classify import classify

EXPECTED = {
    "ms_refresh_expired_inactivity": ("reauth_required", None, "90 days"),
    "ms_grant_revoked": ("reauth_required", None, "revoked"),
    "ms_invalid_grant_generic": ("reauth_required", None, "AADSTS70000"),
    "ms_mfa_required": ("reauth_required", None, "Multi-factor"),
    "ms_sign_in_frequency": ("reauth_required", None, "sign-in frequency"),
    "ms_bad_secret": ("configuration", "client_secret", "not its id"),
    "ms_expired_secret": ("configuration", "client_secret", "expired"),
    "ms_unknown_app": ("configuration", "client_id", "client_id"),
    "ms_no_consent": ("configuration", "scopes", "consent"),
    "ms_tenant_not_found": ("configuration", "tenant_id", "tenant"),
    "ms_bad_scope": ("configuration", "scopes", "/.default"),
    "ms_throttled": ("temporary", None, "rate limiting"),
    "ms_service_unavailable": ("temporary", None, "temporarily unavailable"),
    "google_revoked": ("reauth_required", None, "expired or revoked"),
    "google_bad_client": ("configuration", "client_secret", "invalid_client"),
    "google_unauthorized_client": ("configuration", "flow", "unauthorized_client"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_errors_are_classified(provider_errors, name):
    sample = provider_errors[name]
    retry_after = float(sample.get("headers", {}).get("Retry-After", 0)) or None
    error = classify(sample["status"], sample["body"], retry_after)
    category, option, words = EXPECTED[name]
    assert error.category == category
    assert error.option == option
    assert words.lower() in str(error).lower()
    assert error.http_status == sample["status"]
    assert error.to_dict()["error_category"] == category


def test_retry_after_is_carried(provider_errors):
    sample = provider_errors["ms_throttled"]
    assert classify(429, sample["body"], 7.0).retry_after == 7.0


def test_aadsts_code_is_in_the_error_code(provider_errors):
    error = classify(400, provider_errors["ms_refresh_expired_inactivity"]["body"])
    assert error.code == "invalid_grant (AADSTS700082)"


def test_reauth_message_says_how_to_sign_in_again(provider_errors):
    error = classify(400, provider_errors["google_revoked"]["body"])
    assert "sign in again" in str(error) and "kept" in str(error)


def test_unknown_aadsts_number_does_not_override_error_field():
    error = classify(400, {"error": "invalid_grant", "error_codes": [123456789]})
    assert error.category == "reauth_required"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_without_body_are_temporary(status):
    assert classify(status, None).category == "temporary"


def test_unknown_client_error_is_configuration():
    assert classify(418, {"error": "teapot"}).category == "configuration"


def test_long_descriptions_are_shortened():
    error = classify(400, {"error": "invalid_grant", "error_description": "x" * 5000})
    assert len(error.description) < 400
