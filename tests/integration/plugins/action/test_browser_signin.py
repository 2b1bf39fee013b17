# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Browser sign-in (flow auth_code, PKCE) through the oauth_mail_token action plugin, in real plays.

ansible-playbook runs as a subprocess (with -vvv); when the play shows the sign-in address, the test signs in
on the test provider's real login and consent pages with plain HTTP, as a person would in a browser, and the
browser's last redirect reaches the play's loopback listener (or is pasted into the play's terminal).
"""
from __future__ import annotations

import base64
import os
import re
import subprocess
import urllib.parse

import pytest

from browser_consent import Browser
from signin_play import ALICE, WatchedPlay, assert_later_runs_are_silent, sign_in_play
from xoauth2_playbook import command, write_playbook

from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile

pytestmark = pytest.mark.integration

OPEN = re.compile(r"Open in a browser: (\S+)")
PUBLIC_SCOPES = "[openid, offline_access, mail.send, mail.imap]"


class Play(WatchedPlay):
    """A running ansible-playbook; ``on_url`` gets the sign-in address (once) while the play waits."""

    def __init__(self, folder, text, on_url=None, args=("-vvv",), stdin=subprocess.DEVNULL, argv=None):
        if argv is None:
            argv = command(*write_playbook(folder, text), *args)
        super().__init__(argv, folder, OPEN, on_url, stdin=stdin)

    @property
    def urls(self):
        return self.matches


def signin_task(stack, path, key_text, provider="oidc", **extra):
    options = dict(path=path, provider=provider, authority=stack.issuer, client_id="browser-public",
                   flow="auth_code", scopes=PUBLIC_SCOPES, username=ALICE, encryption_key=key_text,
                   ca_path=stack.ca_file, timeout=10, auth_code_timeout=60)
    options.update(extra)
    return sign_in_play({name: value for name, value in options.items() if value is not None})


@pytest.fixture
def browser(stack):
    return Browser(stack.ca_file)


def stored_tokens(path, key_text):
    record = TokenFile(path, base64.b64decode(key_text)).read()
    return record.access_token, record.refresh_token


def nothing_written(path):
    return not [name for name in os.listdir(os.path.dirname(path)) if name.startswith(os.path.basename(path))]


@pytest.mark.parametrize("provider", ["oidc", "microsoft"])
def test_browser_sign_in_on_the_listener_then_silent_refresh(stack, idp, browser, key_text, tmp_path, token_path,
                                                             provider):
    play = Play(tmp_path, signin_task(stack, token_path, key_text, provider), on_url=browser.sign_in)
    rc, out = play.wait()
    assert rc == 0, out
    assert len(play.urls) == 1 and "[WARNING]: Sign-in needed" in out
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(play.urls[0]).query)
    assert query["code_challenge_method"] == ["S256"] and query["redirect_uri"][0].startswith("http://127.0.0.1:")
    assert browser.delivered_status == 200
    assert "RESULT action=acquired changed=True user=%s" % ALICE in out
    assert not os.path.exists(token_path + ".signin")
    access, refresh = stored_tokens(token_path, key_text)
    assert refresh, "a delegated sign-in keeps a refresh token"
    # The tokens (and the code) never appear in the output, even with -vvv.
    assert access not in out and refresh not in out
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(browser.last_redirect).query)["code"][0]
    assert code not in out
    info = idp.inspect(access)
    assert info["active"] is True and info["username"] == ALICE
    assert idp.counters()["token_by_grant_type"].get("authorization_code") == 1
    # Later runs: no prompt; refreshed renews silently with the stored refresh token.
    idp.reset()

    def later_run(state):
        return Play(tmp_path, signin_task(stack, token_path, key_text, provider, state=state))

    assert_later_runs_are_silent(later_run)
    assert idp.counters()["token_by_grant_type"] == {"refresh_token": 1}


def test_google_stand_in_gives_a_gmail_style_grant_that_logs_in_to_imap(mail_stack, idp, browser, key_text, tmp_path,
                                                                        token_path):
    task = signin_task(mail_stack, token_path, key_text, "google", client_id="google-desktop",
                       client_secret="google-desktop-secret", scopes=None)
    play = Play(tmp_path, task, on_url=browser.sign_in)
    rc, out = play.wait()
    assert rc == 0, out
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(play.urls[0]).query)
    assert query["scope"] == ["https://mail.google.com/"]
    assert query["access_type"] == ["offline"] and query["code_challenge_method"] == ["S256"]
    access, refresh = stored_tokens(token_path, key_text)
    assert refresh and access not in out and refresh not in out and "google-desktop-secret" not in out
    mail_stack.imap_login(ALICE, access).logout()  # raises unless Dovecot accepts the token for Alice's mailbox


def test_denied_consent_fails_and_writes_nothing(stack, idp, browser, key_text, tmp_path, token_path):
    play = Play(tmp_path, signin_task(stack, token_path, key_text), on_url=lambda url: browser.sign_in(url, deny=True))
    rc, out = play.wait()
    assert rc != 0
    assert "access_denied" in out and "reauth_required" in out and "Traceback" not in out
    assert browser.delivered_status == 400  # the browser is told too
    assert nothing_written(token_path)
    assert "authorization_code" not in idp.counters()["token_by_grant_type"]


def test_wrong_state_fails_and_writes_nothing(stack, idp, browser, key_text, tmp_path, token_path):
    def forged(url):
        redirect = browser.sign_in(url, deliver=False)
        browser.deliver(re.sub(r"state=[^&]+", "state=forged", redirect))

    rc, out = Play(tmp_path, signin_task(stack, token_path, key_text), on_url=forged).wait()
    assert rc != 0
    assert "state_mismatch" in out and "Traceback" not in out
    assert nothing_written(token_path)
    assert "authorization_code" not in idp.counters()["token_by_grant_type"]


def test_timeout_fails_and_writes_nothing(stack, idp, key_text, tmp_path, token_path):
    rc, out = Play(tmp_path, signin_task(stack, token_path, key_text, auth_code_timeout=2)).wait()
    assert rc != 0
    assert "auth_code_timeout" in out and "auth_code_mode=paste" in out
    assert nothing_written(token_path)


@pytest.mark.parametrize("redirect", ["http://mail.example.com:8400/", "https://127.0.0.1:8400/", "http://10.0.0.1/"])
def test_redirect_that_is_not_loopback_is_refused_before_anything(stack, idp, key_text, tmp_path, token_path, redirect):
    rc, out = Play(tmp_path, signin_task(stack, token_path, key_text, auth_code_redirect_uri=redirect)).wait()
    assert rc != 0
    assert "auth_code_redirect_uri must be a loopback address" in out and "Sign-in needed" not in out
    assert nothing_written(token_path)
    assert idp.counters()["total"] == 0


def test_paste_mode_reads_the_redirected_address_from_the_terminal(stack, idp, browser, key_text, tmp_path,
                                                                   token_path):
    playbook, inventory = write_playbook(tmp_path, signin_task(stack, token_path, key_text, auth_code_mode="paste"))
    # script(1) gives ansible-playbook a terminal; what the test writes is what a person pastes.
    argv = ["script", "-qec", " ".join(command(playbook, inventory)), "/dev/null"]
    holder = {}

    def paste(url):
        redirect = browser.sign_in(url, deliver=False)
        holder["play"].proc.stdin.write(redirect + "\n")
        holder["play"].proc.stdin.flush()

    holder["play"] = play = Play(tmp_path, None, on_url=paste, argv=argv, stdin=subprocess.PIPE)
    rc, out = play.wait()
    assert rc == 0, out
    assert "RESULT action=acquired changed=True" in out
    assert "http://127.0.0.1:" in out  # the redirect address to copy from is named
    access, refresh = stored_tokens(token_path, key_text)
    assert access not in out and refresh not in out


def test_paste_mode_without_a_terminal_is_a_clear_error(stack, idp, key_text, tmp_path, token_path):
    rc, out = Play(tmp_path, signin_task(stack, token_path, key_text, auth_code_mode="paste")).wait()
    assert rc != 0
    assert "auth_code_mode=paste reads the redirected address from a terminal" in out and "Traceback" not in out
    assert nothing_written(token_path)


def test_check_mode_starts_no_sign_in(stack, idp, key_text, tmp_path, token_path):
    rc, out = Play(tmp_path, signin_task(stack, token_path, key_text), args=("--check",)).wait()
    assert rc == 0, out
    assert "Sign-in needed" not in out and "changed=True" in out
    assert idp.counters()["total"] == 0 and nothing_written(token_path)


def test_a_revoked_grant_asks_for_a_new_browser_sign_in_in_the_same_task(stack, idp, browser, key_text, tmp_path,
                                                                         token_path):
    rc, out = Play(tmp_path, signin_task(stack, token_path, key_text), on_url=browser.sign_in).wait()
    assert rc == 0, out
    first_access, _refresh = stored_tokens(token_path, key_text)
    idp.revoke(account=ALICE)
    play = Play(tmp_path, signin_task(stack, token_path, key_text, state="refreshed"), on_url=browser.sign_in)
    rc, out = play.wait()
    assert rc == 0, out
    assert len(play.urls) == 1
    assert "RESULT action=acquired changed=True" in out
    access, _refresh = stored_tokens(token_path, key_text)
    assert access != first_access and idp.inspect(access)["active"] is True
