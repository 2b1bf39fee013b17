# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fresh_record and error_result: the one read-renew-return and error mapping of the check and the lookup."""
from __future__ import annotations

import pytest
from test_session import ScriptedProvider, make_session

from ansible_collections.xoauth2.mail.plugins.module_utils._dependencies import MissingDependency
from ansible_collections.xoauth2.mail.plugins.module_utils._errors import (
    ConfigurationError, ReauthRequired, StorageError)
from ansible_collections.xoauth2.mail.plugins.module_utils._fresh_token import error_result, fresh_record


def test_a_missing_file_is_a_storage_error_or_the_option_s_configuration_error(token_file):
    session = make_session(token_file, ScriptedProvider([]))
    with pytest.raises(StorageError, match="does not exist"):
        fresh_record(session, 600)
    with pytest.raises(ConfigurationError) as caught:
        fresh_record(session, 600, option="token_file")
    assert caught.value.option == "token_file" and not token_file.exists()


def test_a_missing_file_is_acquired_when_it_need_not_exist(token_file):
    provider = ScriptedProvider([None])
    outcome = fresh_record(make_session(token_file, provider), 600, must_exist=False)
    assert outcome.action == "acquired" and outcome.record.access_token == "at-1"
    assert token_file.read().access_token == "at-1"


def test_a_valid_token_is_returned_without_the_provider_and_an_expiring_one_renewed(token_file):
    fresh_record(make_session(token_file, ScriptedProvider(["rt-1"])), 600, must_exist=False)
    kept = fresh_record(make_session(token_file, ScriptedProvider([])), 600)
    assert kept.action == "none" and kept.record.access_token == "at-1"
    provider = ScriptedProvider(["rt-2"])
    renewed = fresh_record(make_session(token_file, provider), 4000)
    assert renewed.action == "refreshed" and provider.calls == ["refresh:rt-1"]


def test_check_mode_reports_a_due_renewal_but_leaves_the_file(token_file):
    fresh_record(make_session(token_file, ScriptedProvider(["rt-1"])), 600, must_exist=False)
    before = token_file.read().access_token
    outcome = fresh_record(make_session(token_file, ScriptedProvider([])), 4000, check_mode=True)
    assert outcome.action == "refreshed" and token_file.read().access_token == before


def test_error_result_carries_the_category_code_and_option_never_a_secret():
    error = ReauthRequired("The grant was refused.", code="invalid_grant")
    result = error_result(error, describe_missing=None)
    assert result["error_category"] == "reauth_required" and result["error_code"] == "invalid_grant"
    assert result["msg"] == str(error)
    result = error_result(ConfigurationError("client_secret is empty.", option="client_secret"), None)
    assert result["error_option"] == "client_secret" and result["error_category"] == "configuration"


def test_error_result_words_a_missing_library_with_the_given_function():
    missing = MissingDependency("msal", "msal >= 1.28", "to renew tokens", import_traceback="Traceback...")
    result = error_result(missing, lambda requirement, reason: "need %s %s" % (requirement, reason))
    assert result == {"msg": "need msal >= 1.28 to renew tokens", "exception": "Traceback...",
                      "error_category": "configuration"}


def test_error_result_refuses_anything_else():
    with pytest.raises(TypeError):
        error_result(ValueError("x"), None)
