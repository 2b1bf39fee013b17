# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""SIGTERM while the identity provider hangs a token renewal: bounded exit, no second request."""
from __future__ import annotations

import signal
import subprocess
import time

import pytest

import relay_support as rs

pytestmark = pytest.mark.integration


def test_sigterm_during_a_hung_renewal_exits_in_time_with_one_token_request(
        mail_stack, idp, relay_files, start_relay):
    # min_validity above the token's lifetime: the relay must renew at once, and the provider hangs
    alice = dict(relay_files["accounts"][0], min_validity=7200)
    idp.fault(endpoint="token", mode="hang")
    relay = start_relay(accounts=[alice], timeouts={"token": 30, "connect": 20, "command": 30, "data": 60,
                                                    "shutdown": 2})
    assert rs.wait_until(lambda: idp.counters()["token"] == 1), "the background renewal never reached the IdP"
    client = rs.smtp(relay.port, timeout=60)
    client.login("alice", "local-alice")
    client.putcmd("MAIL", "FROM:<alice@example.test>")  # waits for the hung renewal
    time.sleep(0.5)
    relay.signal(signal.SIGTERM)
    code, text = client.getreply()
    assert code == 421, text  # the waiting session is told, not cut off
    client.close()
    try:
        assert relay.wait(15) == 0  # timeouts.shutdown is 2 s; the renewal would hang for 30 s (twice)
    except subprocess.TimeoutExpired:
        pytest.fail("the relay did not exit within 15 s of SIGTERM (timeouts.shutdown: 2)")
    assert idp.counters()["token"] == 1  # no renewal started after SIGTERM
    assert "stopped" in relay.log
