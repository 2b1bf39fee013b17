# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller's half of a browser sign-in (authorization code with PKCE, RFC 7636 / RFC 8252).

The managed host makes the authorization URL and keeps the PKCE verifier; the
controller shows the URL (and opens a browser when a display is there),
receives the redirect on a loopback listener, or reads the redirected address
a person pastes, and checks ``state`` before handing the answer back. The
answer holds a single-use code that is useless without the verifier, and
neither it nor any token is ever displayed.
"""

from __future__ import annotations

import os
import socket
import sys
import time
import webbrowser
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Dict, Optional
from urllib.parse import parse_qs, urlsplit, urlunsplit

from ansible.errors import AnsiblePromptNoninteractive
from ansible.utils.display import Display

from ansible_collections.xoauth2.mail.plugins.module_utils._auth_code_flow import (
    REDIRECT_OPTION,
    check_redirect_uri,
    parse_redirect,
)
from ansible_collections.xoauth2.mail.plugins.module_utils._errors import ConfigurationError, ReauthRequired

display = Display()

DONE_PAGE = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Sign-in</title></head><body>"
             "<h1>%s</h1><p>%s</p></body></html>")
ANSWER_PARAMS = ("code", "state", "error")


def has_display() -> bool:
    """A graphical session a browser can open in; without one, webbrowser would start a text browser here."""
    if sys.platform == "darwin" or os.name == "nt":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def free_port(host: str) -> int:
    """An ephemeral port for the paste mode's redirect address (nothing listens on it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def bind_address(host: str) -> str:
    """Where to listen for a loopback redirect host: localhost is answered on 127.0.0.1."""
    host = host.strip("[]")
    return "127.0.0.1" if host.lower() == "localhost" else host


def with_port(uri: str, port: int) -> str:
    parts = urlsplit(uri)
    host = parts.hostname or "127.0.0.1"
    netloc = "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)
    return urlunsplit((parts.scheme, netloc, parts.path or "/", "", ""))


def expected_state(authorization_url: str) -> str:
    values = parse_qs(urlsplit(authorization_url).query).get("state") or [""]
    return values[0]


class _Server(HTTPServer):
    """One redirect expected; anything else on the port gets a 404."""

    def __init__(self, address, path: str) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)
        self.path = path
        self.base = ""
        self.answer: Optional[str] = None
        self.check = None


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self):  # noqa: N802 (http.server's naming)
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if (parts.path or "/") != self.server.path or not any(name in query for name in ANSWER_PARAMS):
            self._reply(404, "Not found", "This address only receives the answer of a sign-in.")
            return
        # Rebuilt on the redirect address itself: the Host header may say localhost for 127.0.0.1.
        url = "%s?%s" % (self.server.base, parts.query)
        try:
            self.server.check(url)
        except (ConfigurationError, ReauthRequired) as error:
            self._reply(400, "Sign-in failed", error.message)
        else:
            self._reply(200, "Sign-in received", "You can close this window and return to Ansible.")
        self.server.answer = url

    def _reply(self, status: int, title: str, text: str) -> None:
        body = (DONE_PAGE % (title, text.replace("&", "&amp;").replace("<", "&lt;"))).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
        pass  # the request line holds the code: never log it


class LoopbackListener:
    """``http://127.0.0.1:<port>/path``: an ephemeral port unless the redirect address names one."""

    def __init__(self, redirect_uri: str) -> None:
        target = check_redirect_uri(redirect_uri)
        try:
            self.server = _Server((bind_address(target["host"]), target["port"]), target["path"])
        except OSError as exc:
            raise ConfigurationError(
                "Cannot listen for the sign-in's redirect on %s: %s. Choose another port in %s, or leave the port "
                "out for a free one." % (redirect_uri, exc.strerror or exc, REDIRECT_OPTION), option=REDIRECT_OPTION)
        self.redirect_uri = with_port(redirect_uri, self.server.server_address[1])
        self.server.base = self.redirect_uri

    def wait(self, state: str, timeout: float) -> str:
        """The redirected URL (its state checked), or a named error at the timeout."""
        self.server.check = lambda url: parse_redirect(url, state)
        deadline = time.monotonic() + timeout
        try:
            while self.server.answer is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ReauthRequired(
                        "No sign-in reached %s within auth_code_timeout (%d s)." % (self.redirect_uri, timeout),
                        code="auth_code_timeout",
                        hint="Run the task again and finish the sign-in in time. If the browser runs on another "
                             "machine than the controller (AWX, Automation Platform, an SSH session), use "
                             "auth_code_mode=paste from a terminal, or forward the port (ssh -L).")
                self.server.timeout = min(left, 1.0)
                self.server.handle_request()
            parse_redirect(self.server.answer, state)
            return self.server.answer
        finally:
            self.close()

    def close(self) -> None:
        self.server.server_close()


class BrowserSignIn:
    """Show the sign-in address, then get the redirected answer by listener or by paste."""

    def __init__(self, task_name: str, host: Optional[str], path: Optional[str], mode: str = "listener") -> None:
        self.task_name = task_name
        self.host = host or "the managed host"
        self.path = path
        self.mode = mode
        self.listener: Optional[LoopbackListener] = None

    def redirect_uri(self, configured: str) -> str:
        """The redirect address to sign in with: the listener's (with its real port), or a free port to paste from."""
        if self.mode == "paste":
            target = check_redirect_uri(configured)
            return with_port(configured, target["port"] or free_port(bind_address(target["host"])))
        self.listener = LoopbackListener(configured)
        return self.listener.redirect_uri

    def text(self, signin: Dict[str, Any]) -> str:
        lines = [
            "Sign-in needed for the mail token %s on %s (task: %s)." % (self.path, self.host, self.task_name),
            "  Open in a browser: %s" % signin.get("authorization_url"),
        ]
        if self.mode == "paste":
            lines.append("  After signing in, the browser goes to %s... (the page may not load): copy that whole "
                         "address from the address bar and paste it here." % signin.get("redirect_uri"))
        else:
            lines.append("  The answer comes back to %s on this controller." % signin.get("redirect_uri"))
        lines.append("  Waiting up to %d s for the sign-in." % int(signin.get("timeout") or 0))
        return "\n".join(lines)

    def show(self, signin: Dict[str, Any]) -> None:
        text = self.text(signin)
        display.display(text, color="bright yellow")
        display.warning(text)
        if self.mode == "listener" and has_display():
            try:
                webbrowser.open(signin["authorization_url"], new=2)
            except webbrowser.Error:
                pass  # the address is shown; a person can open it

    def answer(self, signin: Dict[str, Any]) -> str:
        """The redirected URL with a checked state; raises a named error otherwise."""
        state = expected_state(signin.get("authorization_url") or "")
        timeout = float(signin.get("timeout") or 0)
        if self.mode == "paste":
            return self._pasted(state, signin.get("redirect_uri"))
        return self.listener.wait(state, timeout)

    def _pasted(self, state: str, redirect_uri: Optional[str]) -> str:
        try:
            raw = display.prompt_until("Paste the address the browser was sent to: ", private=False)
        except AnsiblePromptNoninteractive:
            raise ConfigurationError(
                "auth_code_mode=paste reads the redirected address from a terminal, and this run has none (AWX, "
                "Automation Platform, or stdin redirected). Run the sign-in from a terminal on a controller "
                "(ansible-playbook), once; later runs refresh the token without a person.", option="auth_code_mode")
        url = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        url = url.strip()
        parse_redirect(url, state, redirect_uri)
        return url

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()

    def finished(self, result: Dict[str, Any]) -> None:
        if result.get("failed"):
            display.display("Browser sign-in for %s on %s ended: %s" % (self.path, self.host, result.get("msg")))
        else:
            display.display("Browser sign-in for %s on %s completed; the token is saved there." % (self.path, self.host))
