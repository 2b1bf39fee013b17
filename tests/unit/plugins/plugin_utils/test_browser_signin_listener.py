# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller's loopback listener, on real sockets."""
from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request

import pytest

from ansible_collections.xoauth2.mail.plugins.module_utils._errors import ConfigurationError, ReauthRequired
from ansible_collections.xoauth2.mail.plugins.plugin_utils import _browser_signin
from ansible_collections.xoauth2.mail.plugins.plugin_utils._browser_signin import (
    BrowserSignIn,
    LoopbackListener,
    expected_state,
)


def visit(url, results, delay=0.2):
    """A browser's request, from another thread, a moment after the listener started waiting."""
    def run():
        time.sleep(delay)
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                results.append((answer.status, answer.read().decode()))
        except urllib.error.HTTPError as error:
            results.append((error.code, error.read().decode()))
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_an_ephemeral_port_receives_the_answer_and_ignores_other_requests():
    listener = LoopbackListener("http://127.0.0.1/callback")
    port = int(listener.redirect_uri.rsplit(":", 1)[1].split("/")[0])
    assert port > 0 and listener.redirect_uri == "http://127.0.0.1:%d/callback" % port
    results = []
    stray = visit("http://127.0.0.1:%d/favicon.ico" % port, results, delay=0.1)
    answer = visit(listener.redirect_uri + "?code=c0de&state=s1", results, delay=0.4)
    url = listener.wait("s1", timeout=30)
    stray.join(10)
    answer.join(10)
    assert url == listener.redirect_uri + "?code=c0de&state=s1"
    assert sorted(status for status, _text in results) == [200, 404]
    assert all("c0de" not in text for _status, text in results)


def test_a_wrong_state_ends_the_wait_with_a_named_error_and_tells_the_browser():
    listener = LoopbackListener("http://127.0.0.1/")
    results = []
    visit(listener.redirect_uri + "?code=c0de&state=forged", results).join(0)
    with pytest.raises(ReauthRequired) as caught:
        listener.wait("s1", timeout=30)
    assert caught.value.code == "state_mismatch"
    time.sleep(0.2)
    assert results and results[0][0] == 400


def test_nobody_coming_back_is_a_timeout_naming_the_paste_mode():
    listener = LoopbackListener("http://127.0.0.1/")
    with pytest.raises(ReauthRequired) as caught:
        listener.wait("s1", timeout=1)
    assert caught.value.code == "auth_code_timeout" and "auth_code_mode=paste" in str(caught.value)


def test_a_busy_port_is_a_named_error():
    first = LoopbackListener("http://127.0.0.1/")
    try:
        with pytest.raises(ConfigurationError) as caught:
            LoopbackListener(first.redirect_uri)
        assert caught.value.option == "auth_code_redirect_uri"
    finally:
        first.close()


def test_no_browser_is_started_without_a_display(monkeypatch):
    opened = []
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(_browser_signin.webbrowser, "open", lambda *a, **k: opened.append(a))
    monkeypatch.setattr(_browser_signin.sys, "platform", "linux")
    signin = BrowserSignIn("t", "h", "/p")
    signin.redirect_uri("http://127.0.0.1/")
    signin.show({"authorization_url": "https://idp.test/auth?state=s1", "redirect_uri": "x", "timeout": 5})
    assert opened == []
    monkeypatch.setenv("DISPLAY", ":0")
    signin.show({"authorization_url": "https://idp.test/auth?state=s1", "redirect_uri": "x", "timeout": 5})
    assert opened == [("https://idp.test/auth?state=s1",)]
    signin.close()


def test_the_state_to_expect_is_the_one_in_the_authorization_url():
    assert expected_state("https://idp.test/auth?client_id=a&state=abc%2Bd&x=1") == "abc+d"
