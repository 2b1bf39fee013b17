# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""``xoauth2-relay status``: a Google service account's token has no refresh token, yet renews unattended."""
from __future__ import annotations

import time

from ansible_collections.xoauth2.mail.plugins.module_utils._relay.status import account_status
from ansible_collections.xoauth2.mail.plugins.module_utils._status_file import record_success
from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile

from relay_unit_support import config
from token_samples import make_record


def _status(tmp_path, flow, refresh_token=None):
    account = config(tmp_path).accounts[0]
    record = make_record(now=time.time() - 3300, refresh_token=refresh_token)  # 300 s left: within min_validity
    record.meta.update(provider="google", flow=flow)
    token_file = TokenFile(account.token_file, account.key)
    token_file.replace(record)
    record_success(token_file.status_path, 0o600, None, None, "acquired")
    return account_status(account)


def test_an_expiring_service_account_token_is_renewed_on_next_use_not_a_warning(tmp_path):
    info, code = _status(tmp_path, "service_account")
    assert (info["state"], code) == ("expiring", 0)
    assert "cannot be renewed" not in info["message"]


def test_an_expiring_token_without_any_way_to_renew_still_warns(tmp_path):
    info, code = _status(tmp_path, "auth_code")  # a person's token that lost its refresh token
    assert (info["state"], code) == ("expiring", 1)
    assert "cannot be renewed unattended" in info["message"]
