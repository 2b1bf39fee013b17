# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Approving a device code at the test IdP as a person would: its HTML pages driven with plain HTTP."""

from __future__ import annotations

import html.parser
import re
import urllib.parse


class DeviceApprovalError(AssertionError):
    """Driving the IdP's device pages did not end where expected."""


class _Forms(html.parser.HTMLParser):
    """Collects <form>s: id, action, method and their <input> name/values."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._current = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._current = {"id": a.get("id"), "action": a.get("action") or "",
                             "method": (a.get("method") or "get").lower(), "fields": {}}
            self.forms.append(self._current)
        elif tag == "input" and self._current is not None and a.get("name"):
            self._current["fields"][a["name"]] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


def find_form(text: str, form_id: str) -> dict | None:
    p = _Forms()
    p.feed(text)
    for f in p.forms:
        if f["id"] == form_id:
            return f
    return None


def page_text(page: str) -> str:
    """Rough text of an HTML page for error messages."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)).strip()[:300]


def _submit(session, response, form: dict, data: dict, timeout: float):
    return session.post(urllib.parse.urljoin(response.url, form["action"]), data=data, timeout=timeout)


def _confirm_form(session, issuer: str, user_code: str, timeout: float):
    """Enter the user code; returns (response, confirm form)."""
    r = session.get(f"{issuer}/device", timeout=timeout)
    form = find_form(r.text, "op.deviceInputForm")
    if not form:
        raise DeviceApprovalError(f"no code form at {r.url}: {r.status_code}")
    r = _submit(session, r, form, {**form["fields"], "user_code": user_code}, timeout)
    form = find_form(r.text, "op.deviceConfirmForm")
    if not form:
        raise DeviceApprovalError(f"code {user_code!r} not accepted: {r.status_code} {page_text(r.text)}")
    return r, form


def approve(session, issuer: str, user_code: str, account: str, password: str,
            deny: bool = False, timeout: float = 10.0) -> bool:
    """Code form, confirm, login, consent. ``deny=True`` aborts at the confirm page. True when approved,
    False when denied; raises DeviceApprovalError otherwise (wrong code, wrong password, ...)."""
    r, form = _confirm_form(session, issuer, user_code, timeout)
    if deny:
        fields = {k: v for k, v in form["fields"].items() if k != "confirm"}
        fields["abort"] = "yes"
        _submit(session, r, form, fields, timeout)
        return False
    r = _submit(session, r, form, form["fields"], timeout)
    form = find_form(r.text, "login")
    if form:
        r = _submit(session, r, form, {"login": account, "password": password}, timeout)
        if r.status_code == 401:
            raise DeviceApprovalError(f"login refused for {account}")
    form = find_form(r.text, "consent")
    if form:
        r = _submit(session, r, form, form["fields"], timeout)
    if 'id="device-success"' not in r.text:
        raise DeviceApprovalError(f"device flow did not complete: {r.status_code} {r.url} {page_text(r.text)}")
    return True
