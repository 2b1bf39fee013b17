# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""``TokenSession.decide`` returns what it resolved instead of leaving it on the session."""
from __future__ import annotations

from test_session import ScriptedProvider, make_session

from ansible_collections.xoauth2.mail.plugins.module_utils._session import TokenSession
from ansible_collections.xoauth2.mail.plugins.module_utils._settings import TokenSettings


def test_decide_returns_the_resolved_settings_and_keeps_no_state(token_file):
    settings = TokenSettings(provider="microsoft", tenant_id="contoso", client_id="app", client_secret="s",
                             flow="client_credentials", scopes=["mail.send"], timeout=5, retries=1)
    session = TokenSession(settings, token_file, provider_factory=lambda s, c: ScriptedProvider([]))
    state = dict(vars(session))
    decision = session.decide(None, 600)
    assert decision.action == "acquired"
    assert decision.settings is not None
    assert decision.settings.authority == "https://login.microsoftonline.com/contoso"
    assert session.settings.authority is None  # the given settings stay as they were given
    assert vars(session) == state  # nothing set on the session as a side effect


def test_the_stored_identity_fills_the_decision_and_the_compatible_property(token_file):
    make_session(token_file, ScriptedProvider([None]), scopes=["mail.read", "mail.send"]).ensure_valid(600)
    session = make_session(token_file, ScriptedProvider([]), scopes=None, client_secret=None)
    decision = session.decide(token_file.read(), 600)
    assert decision.action == "none"
    assert decision.settings.scopes == ["mail.read", "mail.send"]
    assert session.resolved.scopes == ["mail.read", "mail.send"]
