# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Notices when a token's state changes: a command to run and/or an HTTPS webhook.

When a notice is due, and which were delivered, is the status file's business
(``_status_file``): this file only builds the notice and sends it. Nothing
here raises on a failed send: a notice is advisory and must never fail a
renewal; the caller keeps it pending and tries again later.

The webhook uses the standard library (``urllib``), not ``requests``: it adds
no dependency to a host without ``requests``, and the environment's
``REQUESTS_CA_BUNDLE`` cannot silently replace the CA given here.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from ._errors import ConfigurationError

COMMAND = "command"
WEBHOOK = "webhook"
EVENT = "xoauth2_mail_token_state"
# Only these reach the command: no Ansible or relay variable (and so nothing secret) leaks to it.
PASSED_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "TZ", "HOME")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MAX_TEXT = 300


def one_line(value: Any, limit: int = MAX_TEXT) -> str:
    """A value fit for one environment variable or log field: one line, no NUL, bounded."""
    text = " ".join(str(value if value is not None else "").replace("\x00", " ").split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


@dataclass
class NoticeSettings:
    """Where notices go. ``option`` names the settings for error messages (module vs relay config)."""

    command: Optional[List[str]] = None
    webhook_url: Optional[str] = field(default=None, repr=False)
    webhook_token: Optional[str] = field(default=None, repr=False)
    webhook_ca_path: Optional[str] = None
    timeout: float = 10
    # first retry after this many seconds, doubling up to MAX_RETRY_INTERVAL
    retry_interval: float = 60
    fix: Optional[str] = None
    account: Optional[str] = None
    option: Callable[[str], str] = field(default=lambda name: "notify_" + name, repr=False)

    @property
    def channels(self) -> Tuple[str, ...]:
        return tuple(name for name, given in ((COMMAND, self.command), (WEBHOOK, self.webhook_url)) if given)

    def check(self) -> "NoticeSettings":
        """Refuse bad settings before anything is renewed; errors name the option."""
        if self.command is not None:
            _check_command(self.command, self.option("command"))
        if self.webhook_url is not None:
            _check_url(self.webhook_url, self.option("webhook_url"))
        if self.webhook_ca_path and not os.path.isfile(self.webhook_ca_path):
            raise ConfigurationError("%s %s is not a file." % (self.option("webhook_ca_path"), self.webhook_ca_path),
                                     option=self.option("webhook_ca_path"))
        for name in ("timeout", "retry_interval"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= 3600:
                raise ConfigurationError("%s must be a number of seconds from 1 to 3600." % self.option(name),
                                         option=self.option(name))
        return self


def _check_command(command: Any, option: str) -> None:
    if not isinstance(command, list) or not command or not all(isinstance(arg, str) for arg in command):
        raise ConfigurationError("%s must be a non-empty list: the program, then its arguments." % option,
                                 option=option)
    program = command[0]
    if not os.path.isabs(program):
        raise ConfigurationError("%s: the program %r must be an absolute path (it runs without a shell)."
                                 % (option, program), option=option)
    if not (os.path.isfile(program) and os.access(program, os.X_OK)):
        raise ConfigurationError("%s: %s is not an executable file." % (option, program), option=option)


def _check_url(url: Any, option: str) -> None:
    parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme != "https" or not parts.hostname:
        # The URL itself is not repeated: webhook URLs often carry a secret.
        raise ConfigurationError("%s must be an https:// URL (notices are sent over verified TLS only)." % option,
                                 option=option)


def webhook_host(url: Optional[str]) -> str:
    """What may be shown of a webhook URL: its host and port, never its path or query."""
    parts = urllib.parse.urlsplit(url or "")
    return "%s:%s" % (parts.hostname, parts.port or 443) if parts.hostname else "(none)"


# -- what a notice says ------------------------------------------------------------------------------------------

def fix_text(state: str, category: Optional[str], flow: Optional[str], token_file: str,
             custom: Optional[str], account: str) -> str:
    """The one step that fixes it: the task to re-run (or the configured text, for a sign-in)."""
    task = "the xoauth2.mail.oauth_mail_token task for %s" % token_file
    if state == "valid":
        return "Nothing to do: the token was renewed again."
    if category == "temporary":
        return "Nothing to do yet: the renewal is retried on its own and the token file is kept; if it lasts, " \
            "check that the identity provider can be reached."
    if category == "configuration":
        return "Correct the setting the error names, then re-run %s." % task
    if state != "needs_reauth":
        return "Look at the token file and its key (the error says what is wrong), then re-run %s." % task
    if custom:
        step = custom.replace("{account}", account)
    elif flow == "device_code":
        step = "Sign in again: re-run %s with flow: device_code (the play shows a code to enter on the " \
            "provider's sign-in page), or with the browser sign-in flow where you use it." % task
    else:
        step = "Sign in again (device code, or a browser sign-in) to get a new grant, then re-run %s with it " \
            "(for flow refresh_token: the new refresh_token)." % task
    return step + " The relay picks up the new token file on its own, and a recovery notice follows."


def build_notice(status: Dict[str, Any], pending: Dict[str, Any], context: Dict[str, Any],
                 settings: NoticeSettings) -> Dict[str, Any]:
    """The notice as JSON-ready data: state, cause, hint and fix; no secret."""
    state = pending["state"]
    error = (status.get("last_error") or {}) if state != "valid" else {}
    category = error.get("error_category")
    account = settings.account or context.get("account") or os.path.basename(context["token_file"])
    notice = {
        "event": EVENT,
        "kind": {"valid": "recovered", "needs_reauth": "reauth_required"}.get(state, "error"),
        "account": account,
        "username": context.get("username"),
        "token_file": context["token_file"],
        "host": socket.gethostname(),
        "state": state,
        "previous_state": pending.get("previous_state"),
        "category": category,
        "code": error.get("error_code"),
        "message": one_line(error.get("message")) or None,
        "hint": one_line(error.get("error_hint") or error.get("message")) if state != "valid"
        else "The token was renewed; mail can be sent again.",
        "fix": fix_text(state, category, context.get("flow"), context["token_file"], settings.fix, account),
        "consecutive_failures": status.get("consecutive_failures", 0),
        "since": _iso(pending.get("since")),
        "attempt": int(pending.get("attempts") or 0) + 1,
    }
    return notice


def _iso(value: Any) -> Optional[str]:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(value))


# -- sending --------------------------------------------------------------------------------------------------

def command_environment(notice: Dict[str, Any]) -> Dict[str, str]:
    env = {name: os.environ[name] for name in PASSED_ENVIRONMENT if name in os.environ}
    env.setdefault("PATH", DEFAULT_PATH)
    for name in ("event", "kind", "account", "username", "token_file", "host", "state", "previous_state",
                 "category", "code", "message", "hint", "fix", "since", "attempt"):
        env["XOAUTH2_" + name.upper()] = one_line(notice.get(name), 2000)
    env["XOAUTH2_NOTICE_JSON"] = json.dumps(notice, sort_keys=True)
    return env


def run_command(argv: List[str], notice: Dict[str, Any], timeout: float) -> Optional[str]:
    """Run the command with the notice in its environment; None, or what went wrong (one line)."""
    with tempfile.TemporaryFile() as errors:
        try:
            # its own session, so a timeout kills what it started too; no shell, no stdin. Not run_command:
            # the core has no AnsibleModule (the relay runs it), and a timeout must stop the whole group.
            proc = subprocess.Popen(  # pylint: disable=ansible-bad-function
                argv, env=command_environment(notice), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=errors, cwd="/", close_fds=True, start_new_session=True)
        except (OSError, ValueError) as exc:
            return "command: cannot run %s: %s" % (argv[0], one_line(getattr(exc, "strerror", None) or exc, 200))
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return "command: %s did not finish within %s s and was stopped" % (argv[0], timeout)
        if code == 0:
            return None
        errors.seek(0)
        said = one_line(errors.read(4096).decode("utf-8", "replace"), 200)
        return "command: %s exited with %s%s" % (argv[0], code, (": " + said) if said else "")


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    proc.wait()


def _no_redirect_handler():
    """A redirect is a failure: the notice (and the token header) go to the configured URL only."""
    import urllib.request  # only when a notice is sent: it costs the relay about 3 MiB

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req, fp, code, msg, headers, newurl):  # pylint: disable=too-many-arguments
            return None

    return NoRedirect()


def post_webhook(settings: NoticeSettings, notice: Dict[str, Any]) -> Optional[str]:
    """POST the notice as JSON over verified TLS; None, or what went wrong (never the URL's path or query)."""
    where = webhook_host(settings.webhook_url)
    try:
        context = ssl.create_default_context(cafile=settings.webhook_ca_path or None)
    except (OSError, ssl.SSLError) as exc:
        return "webhook: cannot load the CA file %s: %s" % (settings.webhook_ca_path, one_line(exc, 200))
    import urllib.error
    import urllib.request

    headers = {"Content-Type": "application/json", "User-Agent": "xoauth2.mail-notify"}
    if settings.webhook_token:
        headers["Authorization"] = "Bearer %s" % settings.webhook_token
    request = urllib.request.Request(settings.webhook_url or "", data=json.dumps(notice).encode("utf-8"),
                                     headers=headers, method="POST")
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), _no_redirect_handler())
    try:
        with opener.open(request, timeout=settings.timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        return "webhook %s answered HTTP %s" % (where, exc.code)
    except urllib.error.URLError as exc:
        return "webhook %s: %s" % (where, one_line(getattr(exc, "reason", exc), 200))
    except (OSError, ValueError, ssl.SSLError) as exc:
        return "webhook %s: %s" % (where, one_line(exc, 200) or type(exc).__name__)
    return None if 200 <= status < 300 else "webhook %s answered HTTP %s" % (where, status)


class Notifier:
    """Sends one token's notices; the context (account, mailbox, flow) is filled in by the session."""

    def __init__(self, settings: NoticeSettings, token_file: str, account: Optional[str] = None,
                 username: Optional[str] = None, flow: Optional[str] = None,
                 report: Optional[Callable[[str, Dict[str, Any]], None]] = None) -> None:
        self.settings = settings
        self.context = {"token_file": token_file, "account": account, "username": username, "flow": flow}
        # e.g. the relay's log: report("notice_sent" | "notice_failed", fields without secrets)
        self.report = report

    @property
    def channels(self) -> Tuple[str, ...]:
        return self.settings.channels

    def deliver(self, status: Dict[str, Any], pending: Dict[str, Any]) -> Tuple[List[str], List[str]]:
        """Send to each channel not yet delivered; (channels delivered now, problems)."""
        notice = build_notice(status, pending, self.context, self.settings)
        delivered, problems = [], []
        for channel in self.channels:
            if channel in (pending.get("delivered") or []):
                continue
            try:
                if channel == COMMAND:
                    problem = run_command(list(self.settings.command or []), notice, self.settings.timeout)
                else:
                    problem = post_webhook(self.settings, notice)
            except Exception as exc:  # pylint: disable=broad-except
                # a notice never turns into a traceback or a failed renewal
                problem = "%s: unexpected %s" % (channel, type(exc).__name__)
            if problem:
                problems.append(problem)
            else:
                delivered.append(channel)
            self._report(notice, channel, problem)
        return delivered, problems

    def _report(self, notice: Dict[str, Any], channel: str, problem: Optional[str]) -> None:
        if self.report is None:
            return
        fields = {"account": notice["account"], "state": notice["state"], "channel": channel,
                  "attempt": notice["attempt"]}
        if problem:
            fields["error"] = problem
        try:
            self.report("notice_failed" if problem else "notice_sent", fields)
        except Exception:  # pylint: disable=broad-except
            pass  # reporting must not turn a sent notice into a failure
