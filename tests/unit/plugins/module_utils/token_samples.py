# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sample token records for the unit tests."""
from __future__ import annotations

from ansible_collections.xoauth2.mail.plugins.module_utils._token_record import TokenGrant, TokenRecord


def make_record(now=1_800_000_000.0, lifetime=3600, refresh_token="rt-1", access_token="at-1"):
    grant = TokenGrant(access_token=access_token, expires_in=lifetime, requested_at=now, refresh_token=refresh_token)
    record = TokenRecord().with_grant(grant, now)
    record.meta.update(provider="oidc", authority="https://idp.test/idp", client_id="app", flow="refresh_token",
                       scopes=["mail.send"], username="alice@example.test")
    return record
