# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from ansible_collections.xoauth2.mail.plugins.module_utils._token_record import TokenGrant, TokenRecord, iso_utc

from token_samples import make_record

NOW = 1_800_000_000.0


def test_expiry_counts_from_when_the_request_left():
    record = make_record(now=NOW, lifetime=3600)
    assert record.expires_at == NOW + 3600
    assert record.seconds_left(NOW + 100) == 3500


def test_validity_against_min_validity():
    record = make_record(now=NOW, lifetime=3600)
    assert record.is_valid_for(600, NOW + 2999)
    assert not record.is_valid_for(600, NOW + 3000)
    assert not record.is_valid_for(600, NOW + 99999)


def test_clock_moved_back_far_means_expired():
    record = make_record(now=NOW, lifetime=3600)
    assert record.seconds_left(NOW - 60) == 3660  # small skew: fine
    assert record.seconds_left(NOW - 3600) == 0   # clock jumped back an hour: unknowable
    assert not record.is_valid_for(0, NOW - 3600)


def test_refresh_keeps_refresh_token_when_none_rotated():
    record = make_record(now=NOW, refresh_token="rt-1")
    renewed = record.with_grant(TokenGrant(access_token="at-2", expires_in=1800, requested_at=NOW + 10), NOW + 11)
    assert renewed.refresh_token == "rt-1" and renewed.access_token == "at-2"
    assert renewed.meta["expires_at"] == NOW + 10 + 1800
    assert renewed.meta["generation"] == record.meta["generation"] + 1
    assert renewed.meta["refresh_token_issued_at"] == NOW


def test_rotated_refresh_token_replaces_the_old_one():
    record = make_record(now=NOW, refresh_token="rt-1")
    renewed = record.with_grant(
        TokenGrant(access_token="at-2", expires_in=3600, requested_at=NOW + 5, refresh_token="rt-2"), NOW + 6)
    assert renewed.refresh_token == "rt-2"
    assert renewed.meta["refresh_token_issued_at"] == NOW + 5


def test_public_view_has_no_secrets_and_iso_dates():
    view = make_record(now=NOW).public_view(NOW)
    assert "at-1" not in repr(view) and "rt-1" not in repr(view)
    assert view["expires_at"] == iso_utc(NOW + 3600) == "2027-01-15T09:00:00Z"
    assert view["expires_in"] == 3600


def test_grant_repr_hides_tokens():
    grant = TokenGrant(access_token="tok-AAA", expires_in=1, requested_at=0, refresh_token="tok-BBB")
    assert "tok-" not in repr(grant)
    assert "tok-" not in repr(TokenRecord(secrets={"access_token": "tok-AAA"}))


def test_grant_from_a_token_endpoint_answer():
    grant = TokenGrant.from_response({"access_token": "a", "expires_in": "1800", "scope": "x y",
                                      "refresh_token": "r", "token_type": "bearer"}, NOW)
    assert (grant.expires_in, grant.scopes, grant.refresh_token) == (1800, ["x", "y"], "r")
    assert TokenGrant.from_response({"access_token": "a"}, NOW).expires_in == 3600  # RFC 6749: optional
    assert TokenGrant.from_response({"access_token": "a", "expires_in": "soon"}, NOW).expires_in == 3600
