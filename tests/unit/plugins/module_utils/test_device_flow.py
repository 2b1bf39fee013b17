# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Device authorization: polling pace (interval, slow_down, deadline) and the sealed pending state."""
from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.xoauth2.mail.plugins.module_utils._device_flow import (
    GRANTED, PENDING, DeviceAuthorization, DevicePending, PendingStore, device_poll_error, poll_until)
from ansible_collections.xoauth2.mail.plugins.module_utils._errors import (
    ConfigurationError, ReauthRequired, StorageError, TemporaryError)
from ansible_collections.xoauth2.mail.plugins.module_utils._provider_base import Provider
from ansible_collections.xoauth2.mail.plugins.module_utils._settings import TokenSettings
from ansible_collections.xoauth2.mail.plugins.module_utils._token_record import TokenGrant


class FakeClock:
    def __init__(self, now=1000.0):
        self.now = now
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


def authorization(clock, interval=5, expires_in=600, timeout=900):
    auth = DeviceAuthorization.from_response(
        {"device_code": "dev-secret", "user_code": "ABCD-EFGH", "verification_uri": "https://idp/device",
         "expires_in": expires_in, "interval": interval}, clock())
    auth.timeout = timeout
    return auth


def scripted(clock, answers):
    polls = []

    def poll(_auth):
        polls.append(clock())
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return poll, polls


def grant():
    return TokenGrant(access_token="at", expires_in=3600, requested_at=0, refresh_token="rt")


def test_polls_at_the_interval_and_adds_five_seconds_on_slow_down():
    clock = FakeClock()
    auth = authorization(clock, interval=5)
    poll, polls = scripted(clock, [DevicePending(), DevicePending(slow_down=True), DevicePending(), grant()])
    status, result = poll_until(poll, auth, window=600, clock=clock, sleep=clock.sleep)
    assert status == GRANTED and result.access_token == "at"
    gaps = [b - a for a, b in zip(polls, polls[1:])]
    # first poll after one interval; after slow_down the interval is 10 s
    assert polls[0] - 1000 == 5
    assert gaps == [5, 10, 10]
    assert auth.interval == 10


def test_server_without_interval_gets_the_rfc_default_of_five_seconds():
    clock = FakeClock()
    auth = DeviceAuthorization.from_response(
        {"device_code": "d", "user_code": "U", "verification_uri": "https://idp/device", "expires_in": 60}, clock())
    assert auth.interval == 5


def test_window_ends_with_pending_and_a_later_call_keeps_the_pace():
    clock = FakeClock()
    auth = authorization(clock, interval=5)
    poll, polls = scripted(clock, [DevicePending()] * 3 + [grant()])
    status, dummy = poll_until(poll, auth, window=12, clock=clock, sleep=clock.sleep)
    assert status == PENDING and len(polls) == 2
    status, dummy = poll_until(poll, auth, window=60, clock=clock, sleep=clock.sleep)
    assert status == GRANTED
    assert [b - a for a, b in zip(polls, polls[1:])] == [5, 5, 5]


def test_timeout_ends_the_wait_with_reauth_required_at_the_deadline():
    clock = FakeClock()
    auth = authorization(clock, interval=5, timeout=12)
    poll, polls = scripted(clock, [DevicePending()] * 10)
    with pytest.raises(ReauthRequired) as caught:
        poll_until(poll, auth, window=600, clock=clock, sleep=clock.sleep)
    assert caught.value.code == "device_code_timeout"
    assert "device_code_timeout" in str(caught.value) and "dev-secret" not in str(caught.value)
    assert clock.now == pytest.approx(1012)
    assert len(polls) == 2


def test_expiry_of_the_code_is_reported_as_expired():
    clock = FakeClock()
    auth = authorization(clock, interval=5, expires_in=8, timeout=900)
    poll, polls = scripted(clock, [DevicePending()] * 10)
    with pytest.raises(ReauthRequired) as caught:
        poll_until(poll, auth, window=600, clock=clock, sleep=clock.sleep)
    assert caught.value.code == "expired_token"


def test_denial_and_server_side_expiry_end_at_once():
    clock = FakeClock()
    for error, code in (("access_denied", "access_denied"), ("expired_token", "expired_token")):
        auth = authorization(clock)
        poll, polls = scripted(clock, [device_poll_error(error, "no")])
        with pytest.raises(ReauthRequired) as caught:
            poll_until(poll, auth, window=600, clock=clock, sleep=clock.sleep)
        assert caught.value.code == code and len(polls) == 1


def test_temporary_failures_do_not_end_a_sign_in_in_progress():
    clock = FakeClock()
    auth = authorization(clock)
    poll, polls = scripted(clock, [TemporaryError("blip"), TemporaryError("blip"), grant()])
    assert poll_until(poll, auth, window=600, clock=clock, sleep=clock.sleep)[0] == GRANTED
    assert len(polls) == 3


def test_configuration_errors_end_the_wait():
    clock = FakeClock()
    auth = authorization(clock)
    poll, dummy = scripted(clock, [ConfigurationError("invalid_client", option="client_id")])
    with pytest.raises(ConfigurationError):
        poll_until(poll, auth, window=600, clock=clock, sleep=clock.sleep)


def test_poll_error_mapping():
    assert isinstance(device_poll_error("authorization_pending", None), DevicePending)
    assert device_poll_error("slow_down", None).slow_down is True
    assert device_poll_error("invalid_client", None) is None


def test_prompt_never_contains_the_device_code():
    clock = FakeClock()
    prompt = authorization(clock).prompt()
    assert "dev-secret" not in json.dumps(prompt)
    assert prompt["user_code"] == "ABCD-EFGH" and prompt["verification_uri"] == "https://idp/device"
    assert "ABCD-EFGH" in prompt["message"]


def test_pending_store_round_trip_is_sealed_and_private(tmp_path):
    key = os.urandom(32)
    token_path = str(tmp_path / "mail.token")
    store = PendingStore(token_path, key)
    auth = authorization(FakeClock())
    auth.extra = {"msal_flow": {"device_code": "dev-secret"}}
    store.save(auth)
    raw = open(token_path + ".device").read()
    assert "dev-secret" not in raw and "ABCD-EFGH" not in raw
    assert stat.S_IMODE(os.stat(token_path + ".device").st_mode) == 0o600
    loaded = store.load()
    assert loaded.device_code == "dev-secret" and loaded.extra == auth.extra and loaded.interval == auth.interval
    with pytest.raises(StorageError):
        PendingStore(token_path, os.urandom(32)).load()
    assert store.remove() is True and store.load() is None and store.remove() is False


def test_tampered_pending_state_is_refused(tmp_path):
    key = os.urandom(32)
    store = PendingStore(str(tmp_path / "t.token"), key)
    store.save(authorization(FakeClock()))
    envelope = json.loads(open(store.path).read())
    envelope["ciphertext"] = envelope["ciphertext"][:-4] + ("AAAA" if envelope["ciphertext"][-4:] != "AAAA" else "BBBB")
    open(store.path, "w").write(json.dumps(envelope))
    with pytest.raises(StorageError):
        store.load()


def test_device_code_flow_cannot_be_acquired_without_a_person():
    settings = TokenSettings(provider="oidc", authority="https://idp.example/x", client_id="c",
                             flow="device_code").resolved()
    with pytest.raises(ReauthRequired) as caught:
        Provider(settings, None, None).acquire()
    assert caught.value.code == "interaction_required" and "device_code" in str(caught.value)


def test_microsoft_device_code_refuses_a_client_secret():
    with pytest.raises(ConfigurationError) as caught:
        TokenSettings(provider="microsoft", tenant_id="t", client_id="c", client_secret="s",
                      flow="device_code").resolved()
    assert caught.value.option == "client_secret"


def test_device_code_defaults_to_delegated_microsoft_scopes():
    settings = TokenSettings(provider="microsoft", tenant_id="t", client_id="c", flow="device_code").resolved()
    assert "https://outlook.office.com/SMTP.Send" in settings.scopes
