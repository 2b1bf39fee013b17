# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""provider google in the settings: defaults, inferred flow, and what Google does not offer."""
from __future__ import annotations

import json

import pytest
from google_support import SA_EMAIL, key_document, new_rsa_key

from ansible_collections.xoauth2.mail.plugins.module_utils._errors import ConfigurationError
from ansible_collections.xoauth2.mail.plugins.module_utils._options import TOKEN_ARGUMENT_SPEC
from ansible_collections.xoauth2.mail.plugins.module_utils._settings import TokenSettings


def test_google_defaults_for_a_user_grant():
    settings = TokenSettings(provider="google", client_id="123-abc.apps.googleusercontent.com",
                             client_secret="GOCSPX-x", refresh_token="1//rt").resolved()
    assert settings.flow == "refresh_token"
    assert settings.authority == "https://accounts.google.com"
    assert settings.scopes == ["https://mail.google.com/"]


def test_a_key_means_flow_service_account_and_its_account_is_the_client():
    document = key_document(new_rsa_key())
    settings = TokenSettings(provider="google", service_account_key=json.dumps(document),
                             username="a@example.com").resolved()
    assert settings.flow == "service_account" and settings.client_id == SA_EMAIL
    # The numeric client ID of the same account is accepted too (that is what the Admin console shows).
    same = TokenSettings(provider="google", service_account_key=document, client_id=document["client_id"],
                         username="a@example.com").resolved()
    assert same.client_id == SA_EMAIL


@pytest.mark.parametrize("values, option", [
    (dict(client_id="x", client_secret="s"), "flow"),                          # no client credentials at Google
    (dict(client_id="x", flow="client_credentials", client_secret="s"), "flow"),
    (dict(client_id="x", flow="device_code"), "flow"),                         # the mail scope is not allowed there
    (dict(flow="service_account", username="a@example.com"), "service_account_key_file"),
])
def test_what_google_does_not_offer_is_refused_before_any_request(values, option):
    with pytest.raises(ConfigurationError) as caught:
        TokenSettings(provider="google", **values).resolved()
    assert caught.value.option == option


def test_service_account_flow_needs_provider_google():
    document = key_document(new_rsa_key())
    with pytest.raises(ConfigurationError) as caught:
        TokenSettings(provider="oidc", authority="https://idp.test", service_account_key=document,
                      username="a@example.com").resolved()
    assert caught.value.option == "provider"


def test_argument_spec_offers_google_and_service_account():
    assert "google" in TOKEN_ARGUMENT_SPEC["provider"]["choices"]
    assert "service_account" in TOKEN_ARGUMENT_SPEC["flow"]["choices"]
