# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A person in a browser, for the test IdP: open the authorization URL, sign in, allow (or deny) the consent.

Drives the test provider's real pages with plain HTTP (login form, consent form) and follows every redirect by
hand until the one to the loopback redirect address, which it returns (and, as a browser would, opens: that is
the request the controller's listener receives).
"""
from __future__ import annotations

import html.parser
import urllib.parse

import requests

FIXTURE_PASSWORDS = {"alice@example.test": "secret-alice", "bob@example.test": "secret-bob"}


class _Forms(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms = {}
        self._current = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            self._current = {"action": attributes.get("action") or "", "fields": {}}
            self.forms[attributes.get("id")] = self._current
        elif tag == "input" and self._current is not None and attributes.get("name"):
            self._current["fields"][attributes["name"]] = attributes.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


def _forms(text):
    parser = _Forms()
    parser.feed(text)
    return parser.forms


class Browser:
    def __init__(self, ca_file, timeout=10):
        self.session = requests.Session()
        self.session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
        self.session.verify = ca_file
        self.timeout = timeout

    def _follow(self, response):
        """Follow redirects within the IdP; stop at the first one to plain http (the loopback redirect)."""
        while response.is_redirect:
            target = urllib.parse.urljoin(response.url, response.headers["Location"])
            if target.startswith("http://"):
                return target
            response = self.session.get(target, allow_redirects=False, timeout=self.timeout)
        return response

    def sign_in(self, authorization_url, account="alice@example.test", deny=False, deliver=True):
        """The loopback URL the provider redirects to; ``deliver`` opens it (the listener answers)."""
        page = self._follow(self.session.get(authorization_url, allow_redirects=False, timeout=self.timeout))
        for _step in range(4):
            if isinstance(page, str):
                break
            forms = _forms(page.text)
            if deny and "abort" in forms:
                chosen, data = forms["abort"], {}
            elif "login" in forms:
                chosen, data = forms["login"], {"login": account, "password": FIXTURE_PASSWORDS[account]}
            elif "consent" in forms:
                chosen, data = forms["consent"], forms["consent"]["fields"]
            else:
                raise AssertionError("unexpected page %s: %s" % (page.url, page.text[:300]))
            action = urllib.parse.urljoin(page.url, chosen["action"])
            page = self._follow(self.session.post(action, data=data, allow_redirects=False, timeout=self.timeout))
        if not isinstance(page, str):
            raise AssertionError("the sign-in did not end in a redirect: %s" % page.url)
        self.last_redirect = page
        if deliver:
            self.deliver(page)
        return page

    def deliver(self, redirect):
        """The browser's last step: the request the controller's loopback listener receives."""
        answer = requests.get(redirect, timeout=self.timeout)
        self.delivered_status = answer.status_code
        self.delivered_text = answer.text
