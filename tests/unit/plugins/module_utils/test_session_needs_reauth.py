# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A token file whose grant was refused (status needs_reauth) is not kept just because it has not expired.

Otherwise re-running the token task, the fix a needs_reauth notice names, changes nothing: the revoked access
token still looks valid for up to an hour, and no new sign-in is asked for.
"""
from __future__ import annotations

import os
import time

from ansible_collections.xoauth2.mail.plugins.module_utils._errors import ReauthRequired, TemporaryError
from ansible_collections.xoauth2.mail.plugins.module_utils._session import ACQUIRE, KEEP, REFRESH, TokenSession
from ansible_collections.xoauth2.mail.plugins.module_utils._settings import TokenSettings
from ansible_collections.xoauth2.mail.plugins.module_utils._status_file import record_failure, record_success
from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile

from token_samples import make_record

SETTINGS = dict(provider="oidc", authority="https://idp.test/idp", client_id="app", flow="refresh_token",
                scopes=["mail.send"], username="alice@example.test")


def _session(tmp_path, refresh_token="rt-1", **meta):
    token_file = TokenFile(str(tmp_path / "t.token"), os.urandom(32))
    record = make_record(now=time.time(), refresh_token=refresh_token)
    record.meta.update(meta)
    token_file.replace(record)
    settings = TokenSettings(**{**SETTINGS, "flow": meta.get("flow", SETTINGS["flow"])})
    return TokenSession(settings, token_file), record


def _fail(session, error):
    tf = session.token_file
    record_failure(tf.status_path, tf.mode, tf.uid, tf.gid, error)


def test_a_valid_token_is_kept_while_the_status_is_fine(tmp_path):
    session, record = _session(tmp_path)
    assert session.decide(record, 600).action == KEEP
    _fail(session, TemporaryError("the identity provider answered 503"))  # an outage is not the grant's fault
    assert session.decide(record, 600).action == KEEP


def test_needs_reauth_renews_instead_of_keeping_an_unexpired_token(tmp_path):
    session, record = _session(tmp_path)
    _fail(session, ReauthRequired("invalid_grant: Token has been expired or revoked."))
    decision = session.decide(record, 600)
    assert decision.action == REFRESH and "needs_reauth" in decision.reason


def test_needs_reauth_without_a_refresh_token_acquires(tmp_path):
    session, record = _session(tmp_path, refresh_token=None, flow="auth_code")
    _fail(session, ReauthRequired("invalid_grant"))
    assert session.decide(record, 600).action == ACQUIRE


def test_after_a_recorded_success_the_token_is_kept_again(tmp_path):
    session, record = _session(tmp_path)
    _fail(session, ReauthRequired("invalid_grant"))
    tf = session.token_file
    record_success(tf.status_path, tf.mode, tf.uid, tf.gid, "acquired")
    assert session.decide(record, 600).action == KEEP
