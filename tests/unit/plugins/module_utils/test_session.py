# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Decision logic of TokenSession with a scripted provider (the real one is in tests/integration)."""
from __future__ import annotations

import json
import time

import pytest

from ansible_collections.xoauth2.mail.plugins.module_utils._errors import (
    ConfigurationError, ReauthRequired, TemporaryError)
from ansible_collections.xoauth2.mail.plugins.module_utils._session import TokenSession
from ansible_collections.xoauth2.mail.plugins.module_utils._settings import TokenSettings
from ansible_collections.xoauth2.mail.plugins.module_utils._token_record import TokenGrant


class ScriptedProvider:
    """Answers from a script; records every call."""

    def __init__(self, script):
        self.script = list(script)
        self.calls = []

        class Session:
            timeout = None
        self.session = Session()

    def _next(self, name, *args):
        self.calls.append(name)
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return TokenGrant(access_token="at-%d" % len(self.calls), expires_in=3600, requested_at=time.time(),
                          refresh_token=step)

    def acquire(self):
        return self._next("acquire")

    def refresh(self, refresh_token):
        return self._next("refresh:" + refresh_token)


def make_session(token_file, provider, **overrides):
    values = dict(provider="oidc", authority="https://idp.test/idp", client_id="app", client_secret="s",
                  flow="client_credentials", scopes=["mail.send"], timeout=5, retries=1)
    values.update(overrides)
    return TokenSession(TokenSettings(**values), token_file, provider_factory=lambda s, c: provider)


def test_first_run_acquires_second_keeps_without_provider(token_file):
    provider = ScriptedProvider([None])
    assert make_session(token_file, provider).ensure_valid(600).action == "acquired"
    outcome = make_session(token_file, ScriptedProvider([])).ensure_valid(600)
    assert outcome.action == "none" and not outcome.changed


def test_expiring_token_is_refreshed_with_stored_refresh_token(token_file):
    make_session(token_file, ScriptedProvider(["rt-1"]), flow="refresh_token", refresh_token="seed").ensure_valid(600)
    provider = ScriptedProvider(["rt-2"])
    outcome = make_session(token_file, provider, flow="refresh_token", refresh_token="seed").ensure_valid(3700)
    assert outcome.action == "refreshed" and provider.calls == ["refresh:rt-1"]
    assert token_file.read().refresh_token == "rt-2"


def test_leaving_the_seed_in_place_does_not_reuse_it(token_file):
    make_session(token_file, ScriptedProvider(["rt-1"]), flow="refresh_token", refresh_token="seed").ensure_valid(600)
    provider = ScriptedProvider([])
    assert make_session(token_file, provider, flow="refresh_token", refresh_token="seed").ensure_valid(600).action == "none"


def test_a_new_seed_is_used(token_file):
    make_session(token_file, ScriptedProvider(["rt-1"]), flow="refresh_token", refresh_token="seed").ensure_valid(600)
    provider = ScriptedProvider(["rt-9"])
    outcome = make_session(token_file, provider, flow="refresh_token", refresh_token="seed2").ensure_valid(600)
    assert outcome.action == "acquired" and provider.calls == ["acquire"]
    assert token_file.read().refresh_token == "rt-9"


def test_changed_settings_acquire_anew(token_file):
    make_session(token_file, ScriptedProvider([None])).ensure_valid(600)
    outcome = make_session(token_file, ScriptedProvider([None]), scopes=["mail.send", "mail.imap"]).ensure_valid(600)
    assert outcome.action == "acquired" and "scopes" in outcome.reason


def test_changed_client_secret_renews(token_file):
    make_session(token_file, ScriptedProvider([None])).ensure_valid(600)
    outcome = make_session(token_file, ScriptedProvider([None]), client_secret="new").ensure_valid(600)
    assert outcome.changed and "credential" in outcome.reason


def test_check_mode_never_calls_the_provider_nor_writes(token_file):
    provider = ScriptedProvider([])
    outcome = make_session(token_file, provider).ensure_valid(600, check_mode=True)
    assert outcome.action == "acquired" and provider.calls == [] and not token_file.exists()


def test_failure_leaves_token_file_byte_for_byte(token_file):
    make_session(token_file, ScriptedProvider(["rt-1"]), flow="refresh_token", refresh_token="seed").ensure_valid(600)
    before = open(token_file.path, "rb").read()
    provider = ScriptedProvider([ReauthRequired("gone", code="invalid_grant")])
    with pytest.raises(ReauthRequired):
        make_session(token_file, provider, flow="refresh_token").ensure_valid(600, force=True)
    assert open(token_file.path, "rb").read() == before
    status = json.load(open(token_file.status_path))
    assert status["state"] == "needs_reauth" and status["last_error"]["error_code"] == "invalid_grant"


def test_temporary_failure_is_retried_then_succeeds(token_file):
    provider = ScriptedProvider([TemporaryError("down", retry_after=0.01), None])
    assert make_session(token_file, provider).ensure_valid(600).action == "acquired"
    assert provider.calls == ["acquire", "acquire"]


def test_app_only_token_is_acquired_anew_when_refresh_token_is_refused(token_file):
    make_session(token_file, ScriptedProvider(["rt-1"])).ensure_valid(600)
    provider = ScriptedProvider([ReauthRequired("gone"), None])
    outcome = make_session(token_file, provider).ensure_valid(600, force=True)
    assert provider.calls == ["refresh:rt-1", "acquire"] and outcome.action == "acquired"


def test_stored_client_secret_renews_without_options(token_file):
    make_session(token_file, ScriptedProvider([None])).ensure_valid(600)
    seen = {}

    def factory(settings, credential):
        seen["credential"] = credential
        return ScriptedProvider([None])
    TokenSession(TokenSettings(), token_file, provider_factory=factory).ensure_valid(600, force=True)
    assert seen["credential"] == {"secret": "s"}


def test_nothing_to_renew_with_is_a_configuration_error(token_file):
    with pytest.raises(ConfigurationError) as caught:
        TokenSession(TokenSettings(provider="oidc", authority="https://x/idp", client_id="a"), token_file,
                     provider_factory=lambda s, c: ScriptedProvider([])).ensure_valid(600)
    assert caught.value.option == "flow"


def test_warns_when_min_validity_exceeds_lifetime(token_file):
    outcome = make_session(token_file, ScriptedProvider([None])).ensure_valid(4000)
    assert outcome.warnings and "min_validity" in outcome.warnings[0]


def test_changed_scopes_with_a_used_seed_refuse_instead_of_replaying_it(token_file):
    make_session(token_file, ScriptedProvider(["rt-1"]), flow="refresh_token", refresh_token="seed").ensure_valid(600)
    provider = ScriptedProvider([])
    with pytest.raises(ConfigurationError) as caught:
        make_session(token_file, provider, flow="refresh_token", refresh_token="seed",
                     scopes=["mail.send", "mail.imap"]).ensure_valid(600)
    assert caught.value.option == "refresh_token" and provider.calls == []
    assert "already redeemed" in str(caught.value)


def test_changed_username_renews_the_stored_grant(token_file):
    make_session(token_file, ScriptedProvider(["rt-1"]), flow="refresh_token", refresh_token="seed").ensure_valid(600)
    provider = ScriptedProvider(["rt-2"])
    outcome = make_session(token_file, provider, flow="refresh_token", refresh_token="seed",
                           username="other@example.test").ensure_valid(600)
    assert outcome.action == "refreshed" and provider.calls == ["refresh:rt-1"]
    assert token_file.read().meta["username"] == "other@example.test"


def test_sealed_secret_is_not_sent_for_another_client(token_file):
    make_session(token_file, ScriptedProvider([None])).ensure_valid(600)
    seen = {}

    def factory(settings, credential):
        seen["credential"] = credential
        return ScriptedProvider(["rt-1"])
    TokenSession(TokenSettings(provider="oidc", authority="https://idp.test/idp", client_id="other-public",
                               flow="refresh_token", refresh_token="seed"), token_file,
                 provider_factory=factory).ensure_valid(600)
    assert seen["credential"] is None


def test_unreadable_token_is_recorded_in_status_and_left_alone(token_file):
    make_session(token_file, ScriptedProvider([None])).ensure_valid(600)
    data = json.load(open(token_file.path))
    data["meta"]["username"] = "mallory@example.test"
    open(token_file.path, "w").write(json.dumps(data))
    tampered = open(token_file.path, "rb").read()
    from ansible_collections.xoauth2.mail.plugins.module_utils._errors import StorageError
    from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile
    with pytest.raises(StorageError):
        make_session(TokenFile(token_file.path, token_file.key), ScriptedProvider([])).ensure_valid(600)
    assert json.load(open(token_file.status_path))["last_error"]["error_category"] == "storage"
    assert open(token_file.path, "rb").read() == tampered
