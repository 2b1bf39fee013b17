# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""oauth_mail_token key rotation and return_token, against the real test identity provider (tests/stack)."""
from __future__ import annotations

import base64
import json
import os

import pytest

pytestmark = pytest.mark.integration

MODULE = "oauth_mail_token"


def new_key():
    return base64.b64encode(os.urandom(32)).decode()


def key_id_of(path):
    with open(path) as handle:
        return json.load(handle)["key_id"]


@pytest.fixture
def old_args(app_args):
    """An app-only token from the real provider, sealed with the old key (key_text)."""
    return app_args


@pytest.fixture
def sealed_with_old_key(run_module, idp, old_args):
    first = run_module(MODULE, old_args)
    assert first["action"] == "acquired", first
    idp.reset()
    return old_args


def test_rekey_reseals_without_any_request(run_module, idp, sealed_with_old_key, stack):
    old = sealed_with_old_key
    old_id, key = key_id_of(old["path"]), new_key()
    args = dict(old, encryption_key=key, previous_encryption_keys=[old["encryption_key"]])
    result = run_module(MODULE, args)
    assert result["changed"] is True and result["action"] == "rekeyed", result
    assert idp.counters()["total"] == 0
    new_id = key_id_of(old["path"])
    assert new_id != old_id and key_id_of(old["path"] + ".bak") == new_id
    assert (result["diff"]["before"]["key_id"], result["diff"]["after"]["key_id"]) == (old_id, new_id)
    for secret in (key, old["encryption_key"], stack.clients["relay-app"]):
        assert secret not in result.raw
    # Once re-sealed: the new key alone opens it and nothing changes.
    again = run_module(MODULE, dict(old, encryption_key=key))
    assert (again["changed"], again["action"]) == (False, "none") and idp.counters()["total"] == 0


def test_rekey_in_check_mode_writes_nothing(run_module, idp, sealed_with_old_key):
    old = sealed_with_old_key
    before = open(old["path"], "rb").read()
    args = dict(old, encryption_key=new_key(), previous_encryption_keys=[old["encryption_key"]])
    result = run_module(MODULE, args, check=True)
    assert result["changed"] is True and result["action"] == "rekeyed", result
    assert open(old["path"], "rb").read() == before and idp.counters()["total"] == 0


def test_key_file_with_the_old_key_after_the_new_one(run_module, idp, sealed_with_old_key, tmp_path):
    old = sealed_with_old_key
    key = new_key()
    key_file = tmp_path / "token.key"
    key_file.write_text("%s\n# previous, remove once status shows no file on it\n%s\n" % (key, old["encryption_key"]))
    args = dict(old, encryption_key_file=str(key_file))
    del args["encryption_key"]
    result = run_module(MODULE, args)
    assert result["action"] == "rekeyed" and idp.counters()["total"] == 0, result


def test_renewal_due_anyway_writes_the_current_key(run_module, idp, sealed_with_old_key):
    old = sealed_with_old_key
    key = new_key()
    result = run_module(MODULE, dict(old, encryption_key=key, previous_encryption_keys=[old["encryption_key"]],
                                     state="refreshed"))
    # an app-only token has no refresh token: its renewal is a new acquisition
    assert result["action"] == "acquired" and "previous key" in result["reason"], result
    assert idp.counters()["token"] == 1
    assert run_module(MODULE, dict(old, encryption_key=key))["action"] == "none"


def test_neither_key_fails_and_keeps_the_file(run_module, idp, sealed_with_old_key):
    old = sealed_with_old_key
    before = open(old["path"], "rb").read()
    result = run_module(MODULE, dict(old, encryption_key=new_key(), previous_encryption_keys=[new_key()]))
    assert result["failed"] is True and result["error_category"] == "storage"
    assert "different key" in result["msg"] and "Traceback" not in result.raw
    assert open(old["path"], "rb").read() == before and idp.counters()["total"] == 0


def test_a_blank_previous_key_names_the_option(run_module, sealed_with_old_key):
    old = sealed_with_old_key
    result = run_module(MODULE, dict(old, previous_encryption_keys=[" "]))
    assert result["failed"] is True and "previous_encryption_keys[0]" in result["msg"]


def test_return_token_warns_without_no_log(run_module, sealed_with_old_key):
    plain = run_module(MODULE, dict(sealed_with_old_key, return_token=True))
    assert plain["access_token"] and "set no_log: true" in str(plain.get("warnings")), plain.raw
    hidden = run_module(MODULE, dict(sealed_with_old_key, return_token=True, _ansible_no_log=True))
    assert hidden["action"] == "none" and "no_log" not in str(hidden.get("warnings"))
    quiet = run_module(MODULE, sealed_with_old_key)
    assert "no_log" not in str(quiet.get("warnings"))
