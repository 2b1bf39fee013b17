# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Device code sign-in through the oauth_mail_token action plugin, in real plays.

ansible-playbook runs as a subprocess; the test reads its output as it comes,
and when the prompt shows a user code it approves (or denies) it by driving
the test provider's real verification pages, as a person would in a browser.
"""
from __future__ import annotations

import os
import re
import subprocess

import pytest

from signin_play import ALICE, WatchedPlay, assert_later_runs_are_silent, sign_in_play
from xoauth2_playbook import command, playbook_env, write_playbook

pytestmark = pytest.mark.integration

CODE = re.compile(r"Enter code: (\S+)")


class Play(WatchedPlay):
    """A running ansible-playbook; ``on_code`` gets each new user code while the play waits."""

    def __init__(self, folder, text, on_code=None, env=None):
        super().__init__(command(*write_playbook(folder, text)), folder, CODE, on_code, env=env)

    @property
    def codes(self):
        return self.matches


def device_task(stack, path, key_text, provider="oidc", **extra):
    options = dict(path=path, provider=provider, authority=stack.issuer, client_id="device-public",
                   flow="device_code", scopes="[openid, offline_access, mail.send, mail.imap]", username=ALICE,
                   encryption_key=key_text, ca_path=stack.ca_file, timeout=10)
    options.update(extra)
    return sign_in_play(options)


@pytest.fixture
def approve(idp):
    return lambda code: idp.approve_device(code, account=ALICE)


@pytest.mark.parametrize("provider", ["oidc", "microsoft"])
def test_approved_sign_in_then_silent_refresh(stack, idp, key_text, tmp_path, token_path, approve, provider):
    play = Play(tmp_path, device_task(stack, token_path, key_text, provider), on_code=approve)
    rc, out = play.wait()
    assert rc == 0, out
    assert len(play.codes) == 1
    assert "Open:       %s/device" % stack.issuer in out
    assert "[WARNING]: Sign-in needed" in out  # also shown where callbacks hide ordinary output
    assert "RESULT action=acquired changed=True user=%s" % ALICE in out
    assert os.path.exists(token_path) and not os.path.exists(token_path + ".device")
    assert idp.counters()["device_authorization"] == 1
    # The token belongs to the person who approved, and works.
    rc, token_out = Play(tmp_path, """
- hosts: h0
  gather_facts: false
  tasks:
    - ansible.builtin.copy:
        dest: %s.value
        content: "{{ lookup('xoauth2.mail.oauth_token', '%s', encryption_key='%s') }}"
        mode: '0600'
""" % (token_path, token_path, key_text)).wait()
    assert rc == 0, token_out
    info = idp.inspect(open(token_path + ".value").read())
    assert info["active"] is True and info["username"] == ALICE
    # Later runs: no prompt. Present keeps it, refreshed refreshes it silently.
    idp.reset()

    def later_run(state):
        return Play(tmp_path, device_task(stack, token_path, key_text, provider, state=state))

    assert_later_runs_are_silent(later_run)
    counters = idp.counters()
    assert counters["device_authorization"] == 0 and counters["token"] == 1


def test_revoked_grant_asks_for_a_new_sign_in(stack, idp, key_text, tmp_path, token_path, approve):
    rc, out = Play(tmp_path, device_task(stack, token_path, key_text), on_code=approve).wait()
    assert rc == 0, out
    idp.revoke(account=ALICE)
    # Without flow=device_code (e.g. the lookup), a clear reauth_required that says what to run.
    rc, out = Play(tmp_path, """
- hosts: h0
  gather_facts: false
  tasks:
    - ansible.builtin.debug:
        msg: "{{ lookup('xoauth2.mail.oauth_token', '%s', encryption_key='%s', ca_path='%s', min_validity=4000) }}"
""" % (token_path, key_text, stack.ca_file)).wait()
    assert rc != 0 and "error_category=reauth_required" in out and "device_code" in out
    # With it, a new sign-in.
    play = Play(tmp_path, device_task(stack, token_path, key_text, state="refreshed"), on_code=approve)
    rc, out = play.wait()
    assert rc == 0, out
    assert len(play.codes) == 1 and "RESULT action=acquired" in out


def test_denied_sign_in_fails_and_writes_nothing(stack, idp, key_text, tmp_path, token_path):
    play = Play(tmp_path, device_task(stack, token_path, key_text),
                on_code=lambda code: idp.approve_device(code, account=ALICE, deny=True))
    rc, out = play.wait()
    assert rc != 0
    assert "access_denied" in out and "reauth_required" in out
    assert "Traceback" not in out
    assert not os.path.exists(token_path) and not os.path.exists(token_path + ".device")


def test_expired_code_fails(stack, idp, key_text, tmp_path, token_path):
    idp.configure(device_code_ttl=3)
    play = Play(tmp_path, device_task(stack, token_path, key_text))
    rc, out = play.wait()
    assert rc != 0 and "expired" in out, out
    assert len(play.codes) == 1
    assert not os.path.exists(token_path) and not os.path.exists(token_path + ".device")


def test_timeout_fails_after_device_code_timeout(stack, idp, key_text, tmp_path, token_path):
    play = Play(tmp_path, device_task(stack, token_path, key_text, device_code_timeout=4))
    rc, out = play.wait()
    assert rc != 0 and "device_code_timeout" in out, out
    assert play.elapsed >= 4  # it waited the timeout out (lower bound only)
    assert not os.path.exists(token_path) and not os.path.exists(token_path + ".device")


def test_slow_down_is_honoured(stack, idp, key_text, tmp_path, token_path, approve):
    # Every poll answers slow_down twice before the approval is seen: the interval grows by 5 s each time.
    idp.fault(endpoint="token", mode="status", status=400, body={"error": "slow_down"}, count=2)
    play = Play(tmp_path, device_task(stack, token_path, key_text), on_code=approve)
    rc, out = play.wait()
    assert rc == 0, out
    # interval 1 s, then 6 s, then 11 s: at least 1 + 6 + 11 s after the prompt
    assert play.elapsed >= 18


def test_check_mode_starts_no_sign_in(stack, idp, key_text, tmp_path, token_path):
    playbook, inventory = write_playbook(tmp_path, device_task(stack, token_path, key_text))
    proc = subprocess.run(command(playbook, inventory, "--check"), capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          env=playbook_env(), cwd=str(tmp_path), timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Sign-in needed" not in proc.stdout and "changed=True" in proc.stdout
    assert idp.counters()["device_authorization"] == 0 and not os.path.exists(token_path)
