# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Local test stack for xoauth2.mail: IdP (oidc-provider), Dovecot, upstream Postfix.

Everything listens on 127.0.0.1 over TLS signed by a throw-away test CA and
runs as plain processes tracked by PID files in the runtime directory
(``$XOAUTH2_STACK_DIR``, default ``/tmp/xoauth2-stack``).

CLI::

    python tests/stack/stack.py start [--idp-only]   # no-op for what already runs
    python tests/stack/stack.py stop
    python tests/stack/stack.py status
    python tests/stack/stack.py env                  # shell export lines

Python::

    from stack import Stack
    st = Stack()
    st.start(idp_only=True)
    st.idp.mint(account="alice@example.test")

See README.md next to this file.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import html.parser
import json
import os
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
IDP_DIR = os.path.join(HERE, "idp")
FIXTURES_FILE = os.path.join(IDP_DIR, "fixtures.json")
DEFAULT_DIR = "/tmp/xoauth2-stack"
HOST = "127.0.0.1"
MAIL_USER = "nobody"   # owner of the test mailboxes (Dovecot mail_uid)
MAIL_GROUP = "nogroup"

with open(FIXTURES_FILE, encoding="utf-8") as _fh:
    FIXTURES = json.load(_fh)

#: account -> password
ACCOUNTS = {name: a["password"] for name, a in FIXTURES["accounts"].items()}
#: client id -> secret (None for public clients)
CLIENTS = {cid: c["secret"] for cid, c in FIXTURES["clients"].items()}
#: client id -> mailbox its client-credentials tokens act for
CLIENT_MAILBOXES = {cid: c["mailbox"] for cid, c in FIXTURES["clients"].items() if c.get("mailbox")}
#: Google service account (client_email) -> its fixture (client_id, delegated_mailboxes, delegated_scopes)
SERVICE_ACCOUNTS = dict(FIXTURES.get("service_accounts") or {})

DEFAULT_PORTS = {
    "idp": 9443,
    "imap": 10143,         # IMAP, STARTTLS
    "imaps": 10993,        # IMAP, implicit TLS
    "submission": 1587,    # upstream Postfix, STARTTLS required, AUTH XOAUTH2/OAUTHBEARER
    "submission_plain": 1588,  # same, but no TLS offered at all
}


class StackError(RuntimeError):
    """A service of the stack failed to start or answer."""


def service_accounts_public_keys() -> str:
    import service_accounts  # noqa: PLC0415

    return service_accounts.PUBLIC_KEYS


def _int_env(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


# --------------------------------------------------------------------------
# HTTP helpers


def _session(ca_file: str | None):
    """A requests.Session that ignores REQUESTS_CA_BUNDLE & co and trusts ca_file."""
    import requests

    s = requests.Session()
    s.trust_env = False  # else REQUESTS_CA_BUNDLE overrides verify=
    if ca_file:
        s.verify = ca_file
    return s


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


def _find_form(text: str, form_id: str) -> dict | None:
    p = _Forms()
    p.feed(text)
    for f in p.forms:
        if f["id"] == form_id:
            return f
    return None


class DeviceApprovalError(AssertionError):
    """Driving the IdP's device pages did not end where expected."""


# --------------------------------------------------------------------------
# IdP control client


class IdpControl:
    """Client for the IdP's /control API plus a few real-endpoint helpers."""

    def __init__(self, base_url: str, issuer: str, ca_file: str, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.issuer = issuer
        self.ca_file = ca_file
        self.timeout = timeout
        self.http = _session(ca_file)

    # -- control API ------------------------------------------------------
    def _call(self, method: str, path: str, body: dict | None = None):
        r = self.http.request(method, f"{self.base_url}/control/{path}", json=body, timeout=self.timeout)
        if r.status_code >= 400:
            raise StackError(f"control {method} {path}: {r.status_code} {r.text}")
        return r.json()

    def health(self) -> dict:
        return self._call("GET", "health")

    def counters(self) -> dict:
        """``{"token": n, "token_by_grant_type": {...}, "token_by_client": {...},
        "discovery": n, "introspection": n, "device_authorization": n,
        "revocation": n, "jwks": n, "userinfo": n, "device_verification": n,
        "interaction": n, "other": n, "total": n}``"""
        return self._call("GET", "counters")

    def reset(self) -> None:
        """Zero the counters, clear faults, restore default settings (tokens stay)."""
        self._call("POST", "reset")

    def fault(self, endpoint: str = "token", mode: str = "status", status: int = 500,
              body=None, headers: dict | None = None, delay_ms: int = 0, count: int = -1) -> dict:
        """Inject a fault on ``endpoint`` (token, discovery, introspection,
        device_authorization, revocation, jwks, userinfo, any).

        mode: ``status`` (answer status/body/headers), ``hang`` (never answer
        until cleared), ``reset`` (close the connection), ``delay`` (wait
        delay_ms, then answer normally). count: how many requests (-1 = until
        cleared). A new fault replaces an older one on the same endpoint."""
        spec = {"endpoint": endpoint, "mode": mode, "status": status, "headers": headers or {},
                "delay_ms": delay_ms, "count": count}
        if body is not None:
            spec["body"] = body
        return self._call("POST", "fault", spec)

    def clear_faults(self) -> None:
        self._call("DELETE", "fault")

    def configure(self, **settings) -> dict:
        """Set access_token_ttl, client_credentials_ttl, refresh_token_ttl,
        device_code_ttl, device_interval (seconds). reset() restores defaults."""
        return self._call("POST", "config", settings)

    def settings(self) -> dict:
        return self._call("GET", "config")

    def mint(self, client_id: str = "device-public", account: str = "alice@example.test",
             scope: str = "openid offline_access mail.send mail.imap") -> dict:
        """A real grant + tokens made by the provider's models, as if the user
        had signed in (not counted as a token request). Returns access_token,
        refresh_token (when offline_access), expires_in, scope, grant_id."""
        return self._call("POST", "mint", {"client_id": client_id, "account": account, "scope": scope})

    def revoke(self, account: str | None = None, client_id: str | None = None,
               grant_id: str | None = None) -> dict:
        """Revoke every grant and token of an account, a client or one grant."""
        body = {k: v for k, v in (("account", account), ("client_id", client_id),
                                  ("grant_id", grant_id)) if v}
        return self._call("POST", "revoke", body)

    def inspect(self, token: str) -> dict:
        """Look a token up without touching counters: {active, kind, sub, username, ...}."""
        return self._call("POST", "introspect", {"token": token})

    # -- real endpoints (these count) -------------------------------------
    @property
    def token_url(self) -> str:
        return f"{self.issuer}/token"

    def _auth(self, client_id: str):
        secret = CLIENTS.get(client_id)
        return (client_id, secret) if secret else None

    def token_request(self, client_id: str, **params):
        """POST to the token endpoint (basic auth for confidential clients).
        Returns the requests.Response."""
        data = dict(params)
        auth = self._auth(client_id)
        if auth is None:
            data["client_id"] = client_id
        return self.http.post(self.token_url, data=data, auth=auth, timeout=self.timeout)

    def client_credentials(self, client_id: str = "relay-app", scope: str = "mail.send") -> dict:
        r = self.token_request(client_id, grant_type="client_credentials", scope=scope)
        r.raise_for_status()
        return r.json()

    def refresh(self, refresh_token: str, client_id: str = "device-public", scope: str | None = None):
        """Refresh; returns the requests.Response (check status / json)."""
        params = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if scope:
            params["scope"] = scope
        return self.token_request(client_id, **params)

    def introspect(self, token: str, client_id: str = "dovecot") -> dict:
        """RFC 7662 introspection as Dovecot does it (counts)."""
        r = self.http.post(f"{self.issuer}/token/introspection", data={"token": token},
                           auth=self._auth(client_id), timeout=self.timeout)
        r.raise_for_status()
        return r.json()

    def start_device(self, client_id: str = "device-public",
                     scope: str = "openid offline_access mail.send mail.imap") -> dict:
        """Device authorization request; returns device_code, user_code,
        verification_uri(_complete), expires_in, interval, message."""
        data = {"scope": scope}
        auth = self._auth(client_id)
        if auth is None:
            data["client_id"] = client_id
        r = self.http.post(f"{self.issuer}/device/auth", data=data, auth=auth, timeout=self.timeout)
        r.raise_for_status()
        return r.json()

    def poll_device(self, device_code: str, client_id: str = "device-public", timeout: float = 30.0) -> dict:
        """Poll the token endpoint until the device code resolves; returns the
        final JSON (tokens, or {"error": ...} other than authorization_pending)."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.token_request(client_id, grant_type="urn:ietf:params:oauth:grant-type:device_code",
                                   device_code=device_code)
            body = r.json()
            if body.get("error") not in ("authorization_pending", "slow_down"):
                return body
            if time.monotonic() > deadline:
                return body
            time.sleep(0.2)

    def approve_device(self, user_code: str, account: str = "alice@example.test",
                       password: str | None = None, deny: bool = False) -> bool:
        """Drive the device pages with plain HTTP like a person would: code
        form, confirm, login, consent. ``deny=True`` aborts at the confirm
        page (the device then gets ``access_denied``). Returns True when
        approved, False when denied; raises DeviceApprovalError otherwise
        (wrong code, wrong password, ...)."""
        if password is None:
            password = ACCOUNTS.get(account, "")
        s = _session(self.ca_file)
        t = self.timeout
        r = s.get(f"{self.issuer}/device", timeout=t)
        form = _find_form(r.text, "op.deviceInputForm")
        if not form:
            raise DeviceApprovalError(f"no code form at {r.url}: {r.status_code}")
        action = urllib.parse.urljoin(r.url, form["action"])
        r = s.post(action, data={**form["fields"], "user_code": user_code}, timeout=t)
        form = _find_form(r.text, "op.deviceConfirmForm")
        if not form:
            raise DeviceApprovalError(f"code {user_code!r} not accepted: {r.status_code} {_text(r.text)}")
        action = urllib.parse.urljoin(r.url, form["action"])
        if deny:
            fields = {k: v for k, v in form["fields"].items() if k != "confirm"}
            fields["abort"] = "yes"
            s.post(action, data=fields, timeout=t)
            return False
        r = s.post(action, data=form["fields"], timeout=t)
        form = _find_form(r.text, "login")
        if form:
            r = s.post(urllib.parse.urljoin(r.url, form["action"]),
                       data={"login": account, "password": password}, timeout=t)
            if r.status_code == 401:
                raise DeviceApprovalError(f"login refused for {account}")
        form = _find_form(r.text, "consent")
        if form:
            r = s.post(urllib.parse.urljoin(r.url, form["action"]), data=form["fields"], timeout=t)
        if 'id="device-success"' not in r.text:
            raise DeviceApprovalError(f"device flow did not complete: {r.status_code} {r.url} {_text(r.text)}")
        return True


def _text(page: str) -> str:
    """Rough text of an HTML page for error messages."""
    import re

    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)).strip()[:300]


def sasl_initial(mechanism: str, account: str, token: str) -> str:
    """The SASL initial response (not base64) for XOAUTH2 or OAUTHBEARER."""
    if mechanism.upper() == "OAUTHBEARER":
        return f"n,a={account},\x01auth=Bearer {token}\x01\x01"
    return f"user={account}\x01auth=Bearer {token}\x01\x01"


def _write_text(path: str, text: str, mode: int = 0o644) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


# --------------------------------------------------------------------------
# process helpers


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
        if state in ("Z", "X"):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            return False
    except (OSError, IndexError):
        return False
    return True


def _group_members(pgid: int) -> list:
    """Live (non-zombie) PIDs in a process group."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            out.append(int(name))
    return out


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _read_pid(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as fh:
            return int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _port_open(port: int, host: str = HOST, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _tail(path: str, lines: int = 25) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return "".join(fh.readlines()[-lines:])
    except OSError:
        return "(no log)"


def _kill(pid: int, match: str | None, timeout: float = 5.0) -> bool:
    """TERM the process group of pid (or pid), then KILL. Returns True if it was running."""
    if not _pid_alive(pid):
        return False
    if match and match not in _cmdline(pid):
        return False  # pid reused by something else
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return False
    group = pgid == pid  # we started it in its own session/group

    def send(sig):
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(pgid, sig)
            else:
                os.kill(pid, sig)

    # TERM the leader alone first: Dovecot's and Postfix's masters stop their
    # children themselves (quieter logs); KILL the whole group only if needed.
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            break
        time.sleep(0.05)
    else:
        send(signal.SIGKILL)
        for _attempt in range(100):
            if not _pid_alive(pid):
                break
            time.sleep(0.05)
    if group:  # stragglers of the group get a moment, then KILL
        for _attempt in range(20):
            if not _group_members(pgid):
                break
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    return True


# --------------------------------------------------------------------------
# the stack


class Stack:
    """The test stack in one runtime directory.

    Attributes: ``dir``, ``issuer``, ``ca_file`` (test CA), ``ca_bundle``
    (system CAs + test CA), ``cert_file``/``key_file`` (server), ``clients``
    (id -> secret or None), ``client_mailboxes``, ``accounts`` (address ->
    password), ``ports`` (dict), ``idp_port``, ``imap_port``, ``imaps_port``,
    ``submission_port``, ``submission_plain_port``, ``idp`` (IdpControl).
    """

    SERVICES = ("idp", "dovecot", "postfix")

    def __init__(self, runtime_dir: str | None = None):
        self.dir = os.path.abspath(runtime_dir or os.environ.get("XOAUTH2_STACK_DIR") or DEFAULT_DIR)
        self.host = HOST
        self.ports = {k: _int_env(f"XOAUTH2_STACK_{k.upper()}_PORT", v) for k, v in DEFAULT_PORTS.items()}
        self.idp_port = self.ports["idp"]
        self.imap_port = self.ports["imap"]
        self.imaps_port = self.ports["imaps"]
        self.submission_port = self.ports["submission"]
        self.submission_plain_port = self.ports["submission_plain"]
        self.base_url = f"https://{HOST}:{self.idp_port}"
        self.issuer = f"{self.base_url}/idp"
        self.pki_dir = os.path.join(self.dir, "pki")
        self.ca_file = os.path.join(self.pki_dir, "ca.crt")
        self.ca_bundle = os.path.join(self.pki_dir, "ca-bundle.crt")
        self.cert_file = os.path.join(self.pki_dir, "server.crt")
        self.key_file = os.path.join(self.pki_dir, "server.key")
        self.log_dir = os.path.join(self.dir, "logs")
        self.run_dir = os.path.join(self.dir, "run")
        self.mail_dir = os.path.join(self.dir, "mail")
        self.clients = dict(CLIENTS)
        self.client_mailboxes = dict(CLIENT_MAILBOXES)
        self.accounts = dict(ACCOUNTS)
        self.idp = IdpControl(self.base_url, self.issuer, self.ca_file)
        self.google_dir = os.path.join(self.dir, "google")
        self.service_accounts = dict(SERVICE_ACCOUNTS)

    # -- paths --------------------------------------------------------------
    def pidfile(self, service: str) -> str:
        return os.path.join(self.run_dir, f"{service}.pid")

    def logfile(self, service: str) -> str:
        return os.path.join(self.log_dir, f"{service}.log")

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/token"

    def service_account_key_file(self, client_email: str = "mail-relay@xoauth2-test.iam.gserviceaccount.com") -> str:
        """Path of the Google-style JSON key file of a test service account (written by start)."""
        import service_accounts  # noqa: PLC0415

        return service_accounts.key_file(self.google_dir, self.service_accounts[client_email]["client_id"])

    def http(self):
        """A requests.Session that trusts the test CA (and ignores REQUESTS_CA_BUNDLE)."""
        return _session(self.ca_file)

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    @contextlib.contextmanager
    def _lock(self):
        """Inter-process lock on the runtime dir (re-entrant within this object)."""
        if getattr(self, "_lock_depth", 0):
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "stack.lock"), "w", encoding="ascii") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            self._lock_depth = 1
            try:
                yield
            finally:
                self._lock_depth = 0
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _prepare(self):
        import pki  # noqa: PLC0415  (tests/stack is on sys.path via this file's dir)

        for d in (self.dir, self.log_dir, self.run_dir):
            os.makedirs(d, exist_ok=True)
        pki.ensure(self.pki_dir)
        import service_accounts  # noqa: PLC0415

        service_accounts.ensure(self.google_dir, self.service_accounts, self.token_url)

    # -- status -------------------------------------------------------------
    def pid(self, service: str) -> int | None:
        """PID of a running service, or None."""
        pid = _read_pid(self.pidfile(service))
        if pid and _pid_alive(pid):
            return pid
        return None

    def status(self) -> dict:
        return {s: self.pid(s) for s in self.SERVICES}

    def running(self, service: str = "idp") -> bool:
        return self.pid(service) is not None

    # -- start / stop -------------------------------------------------------
    def start(self, idp_only: bool = False, timeout: float = 30.0) -> list[str]:
        """Start what is not running yet; wait until each answers. Returns the
        services this call started (empty if all were running)."""
        started = []
        with self._lock():
            try:
                self._prepare()
                if self._start_idp(timeout):
                    started.append("idp")
                if not idp_only:
                    if self._start_dovecot(timeout):
                        started.append("dovecot")
                    if self._start_postfix(timeout):
                        started.append("postfix")
            except BaseException:
                # all or nothing: do not leave behind what this call started
                for service in reversed(started):
                    getattr(self, f"_stop_{service}")()
                raise
        return started

    def stop(self, services=None) -> list[str]:
        """Stop services (default all) by PID; idempotent. Returns those stopped."""
        stopped = []
        with self._lock():
            for service in reversed(self.SERVICES):
                if services is not None and service not in services:
                    continue
                if getattr(self, f"_stop_{service}")():
                    stopped.append(service)
        return stopped

    def _wait(self, service: str, check, timeout: float, proc=None):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                last = f"exited with {proc.returncode}"
                break
            try:
                if check():
                    return
            except Exception as exc:  # noqa: BLE001 - report the last one
                last = repr(exc)
            time.sleep(0.05)
        log = self.logfile(service)
        raise StackError(
            f"{service} did not come up within {timeout:.0f}s ({last}); log: {log}\n--- tail of {log} ---\n{_tail(log)}"
        )

    def _spawn(self, service: str, argv: list[str], env: dict | None = None, cwd: str | None = None):
        log = open(self.logfile(service), "ab")  # noqa: SIM115 - handed to the child
        try:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} start: {shlex.join(argv)}\n".encode())
            log.flush()
            proc = subprocess.Popen(  # noqa: S603
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, cwd=cwd, start_new_session=True, close_fds=True,
            )
        finally:
            log.close()
        with open(self.pidfile(service), "w", encoding="ascii") as fh:
            fh.write(f"{proc.pid}\n")
        return proc

    # idp ---------------------------------------------------------------
    def _idp_ok(self) -> bool:
        try:
            return self.idp.health().get("issuer") == self.issuer
        except Exception:  # noqa: BLE001
            return False

    def _start_idp(self, timeout: float) -> bool:
        if self.pid("idp"):
            self._wait("idp", self._idp_ok, timeout)
            return False
        if _port_open(self.idp_port):
            raise StackError(f"port {self.idp_port} is in use by a process this stack did not start")
        if not os.path.isdir(os.path.join(IDP_DIR, "node_modules", "oidc-provider")):
            npm = shutil.which("npm")
            if not npm:
                raise StackError("npm not found: run tests/stack/install.sh")
            subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=IDP_DIR, check=True)  # noqa: S603
        node = shutil.which("node")
        if not node:
            raise StackError("node not found: run tests/stack/install.sh")
        env = {k: v for k, v in os.environ.items() if not k.startswith("NODE_OPTIONS")}
        env.update({
            "IDP_HOST": HOST, "IDP_PORT": str(self.idp_port), "IDP_ISSUER": self.issuer,
            "IDP_TLS_CERT": self.cert_file, "IDP_TLS_KEY": self.key_file, "IDP_FIXTURES": FIXTURES_FILE,
            "IDP_GOOGLE_KEYS": os.path.join(self.google_dir, service_accounts_public_keys()),
        })
        proc = self._spawn("idp", [node, os.path.join(IDP_DIR, "server.mjs")], env=env, cwd=IDP_DIR)
        try:
            self._wait("idp", self._idp_ok, timeout, proc)
        except StackError:
            self._stop_idp()
            raise
        return True

    def _stop_idp(self) -> bool:
        pid = _read_pid(self.pidfile("idp"))
        done = bool(pid) and _kill(pid, "server.mjs")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.pidfile("idp"))
        return done

    # dovecot --------------------------------------------------------------
    @property
    def dovecot_dir(self) -> str:
        return os.path.join(self.dir, "dovecot")

    @property
    def dovecot_base_dir(self) -> str:
        return os.path.join(self.dovecot_dir, "base")

    @property
    def lmtp_socket(self) -> str:
        return os.path.join(self.dovecot_base_dir, "lmtp")

    @property
    def auth_socket(self) -> str:
        """Dovecot SASL socket for Postfix (smtpd_sasl_type = dovecot)."""
        return os.path.join(self.dovecot_base_dir, "auth-postfix")

    def _write_dovecot_config(self) -> str:
        d = self.dovecot_dir
        for sub in ("", "state"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        os.makedirs(self.mail_dir, exist_ok=True)
        shutil.chown(self.mail_dir, MAIL_USER, MAIL_GROUP)
        oauth2 = os.path.join(d, "dovecot-oauth2.conf.ext")
        secret = self.clients["dovecot"]
        _write_text(oauth2, f"""\
# test stack: validate tokens by RFC 7662 introspection at the test IdP
introspection_mode = post
introspection_url = https://dovecot:{secret}@{HOST}:{self.idp_port}/idp/token/introspection
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
tls_ca_cert_file = {self.ca_file}
timeout_msecs = 10000
""", 0o600)
        dh = os.path.join(self.pki_dir, "dh.pem")
        conf = os.path.join(d, "dovecot.conf")
        _write_text(conf, f"""\
# Private Dovecot instance of the xoauth2.mail test stack (generated by stack.py).
instance_name = xoauth2-stack
base_dir = {self.dovecot_base_dir}
state_dir = {os.path.join(d, "state")}
log_path = {self.logfile("dovecot")}
protocols = imap lmtp
listen = {HOST}
shutdown_clients = yes

ssl = yes
ssl_cert = <{self.cert_file}
ssl_key = <{self.key_file}
{"ssl_dh = <" + dh if os.path.exists(dh) else ""}
disable_plaintext_auth = yes

auth_mechanisms = xoauth2 oauthbearer
auth_failure_delay = 0
auth_verbose = yes
auth_cache_size = 0
default_login_user = dovenull
default_internal_user = dovecot
mail_location = maildir:{self.mail_dir}/%Lu/Maildir
mail_uid = {MAIL_USER}
mail_gid = {MAIL_GROUP}
first_valid_uid = 1

passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {oauth2}
}}
userdb {{
  driver = static
  args = uid={MAIL_USER} gid={MAIL_GROUP} home={self.mail_dir}/%Lu allow_all_users=yes
}}

service imap-login {{
  inet_listener imap {{
    address = {HOST}
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {self.imaps_port}
    ssl = yes
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
}}
service auth {{
  unix_listener auth-postfix {{
    mode = 0666
  }}
}}
# no brute-force penalties in tests
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
namespace inbox {{
  inbox = yes
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
}}
""")
        return conf

    def _imap_ok(self) -> bool:
        with socket.create_connection((HOST, self.imap_port), timeout=1) as s:
            s.settimeout(2)
            return s.recv(200).startswith(b"* OK") and os.path.exists(self.lmtp_socket)

    def _start_dovecot(self, timeout: float) -> bool:
        if self.pid("dovecot"):
            self._wait("dovecot", self._imap_ok, timeout)
            return False
        binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        if not os.path.exists(binary):
            raise StackError("dovecot not installed: run tests/stack/install.sh")
        for port in (self.imap_port, self.imaps_port):
            if _port_open(port):
                raise StackError(f"port {port} is in use by a process this stack did not start")
        conf = self._write_dovecot_config()
        proc = self._spawn("dovecot", [binary, "-F", "-c", conf])
        try:
            self._wait("dovecot", self._imap_ok, timeout, proc)
        except StackError:
            self._stop_dovecot()
            raise
        return True

    def _stop_dovecot(self) -> bool:
        pid = _read_pid(self.pidfile("dovecot"))
        done = bool(pid) and _kill(pid, "dovecot")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.pidfile("dovecot"))
        return done

    # postfix --------------------------------------------------------------
    @property
    def postfix_dir(self) -> str:
        """Postfix state: etc/ (config dir for postfix -c), queue/, data/."""
        return os.path.join(self.dir, "postfix")

    @property
    def postfix_config_dir(self) -> str:
        return os.path.join(self.postfix_dir, "etc")

    def _write_postfix_config(self) -> str:
        top = self.postfix_dir
        d = self.postfix_config_dir
        for sub in ("etc", "queue", "data"):
            os.makedirs(os.path.join(top, sub), exist_ok=True)
        shutil.chown(os.path.join(top, "data"), "postfix", "postfix")
        domains = sorted({a.split("@", 1)[1] for a in self.accounts})
        vmailbox = os.path.join(d, "vmailbox")
        _write_text(vmailbox, "".join(f"{a} OK\n" for a in sorted(self.accounts)))
        log = self.logfile("postfix")
        _write_text(os.path.join(d, "main.cf"), f"""\
# Upstream Postfix of the xoauth2.mail test stack (generated by stack.py).
compatibility_level = 3.6
queue_directory = {top}/queue
data_directory = {top}/data
mail_owner = postfix
setgid_group = postdrop
syslog_name = xoauth2-stack-upstream
maillog_file = {log}
maillog_file_prefixes = {self.log_dir}
myhostname = upstream.example.test
mydomain = example.test
myorigin = $mydomain
mydestination =
inet_interfaces = {HOST}
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
alias_maps =
alias_database =
local_recipient_maps =
biff = no
append_dot_mydomain = no
readme_directory = no
smtputf8_enable = no
virtual_mailbox_domains = {" ".join(domains)}
virtual_mailbox_maps = texthash:{vmailbox}
virtual_transport = lmtp:unix:{self.lmtp_socket}
smtpd_banner = $myhostname ESMTP xoauth2-stack upstream
smtpd_tls_cert_file = {self.cert_file}
smtpd_tls_key_file = {self.key_file}
smtpd_tls_loglevel = 0
smtpd_sasl_type = dovecot
smtpd_sasl_path = {self.auth_socket}
smtpd_sasl_security_options = noanonymous
smtpd_sasl_authenticated_header = yes
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_recipient_restrictions = permit_sasl_authenticated, reject
smtpd_client_restrictions =
smtp_tls_security_level = none
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
anvil_rate_time_unit = 60s
delay_warning_time = 0
maximal_queue_lifetime = 1h
bounce_queue_lifetime = 1h
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 30s
""")
        common = ("  -o smtpd_sasl_auth_enable=yes\n"
                  "  -o smtpd_client_restrictions=\n"
                  "  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject\n")
        _write_text(os.path.join(d, "master.cf"), f"""\
# Upstream Postfix of the xoauth2.mail test stack: no chroot anywhere.
# service type  private unpriv  chroot  wakeup  maxproc command + args
{HOST}:{self.submission_port} inet n - n - - smtpd
  -o syslog_name=xoauth2-stack-upstream/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_auth_only=yes
{common}{HOST}:{self.submission_plain_port} inet n - n - - smtpd
  -o syslog_name=xoauth2-stack-upstream/plain
  -o smtpd_tls_security_level=none
  -o smtpd_tls_auth_only=no
{common}pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
""")
        return d

    def _postfix_master_pid(self) -> int | None:
        return _read_pid(os.path.join(self.postfix_dir, "queue", "pid", "master.pid"))

    def _smtp_ok(self) -> bool:
        with socket.create_connection((HOST, self.submission_port), timeout=1) as s:
            s.settimeout(2)
            return s.recv(200).startswith(b"220")

    def _start_postfix(self, timeout: float) -> bool:
        if self.pid("postfix"):
            self._wait("postfix", self._smtp_ok, timeout)
            return False
        binary = shutil.which("postfix") or "/usr/sbin/postfix"
        if not os.path.exists(binary):
            raise StackError("postfix not installed: run tests/stack/install.sh")
        for port in (self.submission_port, self.submission_plain_port):
            if _port_open(port):
                raise StackError(f"port {port} is in use by a process this stack did not start")
        d = self._write_postfix_config()
        stale = self._postfix_master_pid()
        if stale and _pid_alive(stale) and "master" in _cmdline(stale):
            _kill(stale, "master")
        cmd = f"{shlex.quote(binary)} -c {shlex.quote(d)} start"
        argv = ["script", "-qec", cmd, "/dev/null"] if shutil.which("script") else [binary, "-c", d, "start"]
        with open(self.logfile("postfix"), "ab") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} start: {shlex.join(argv)}\n".encode())
            log.flush()
            rc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,  # noqa: S603
                                timeout=timeout, check=False).returncode
        pid = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid = self._postfix_master_pid()
            if pid and _pid_alive(pid):
                break
            time.sleep(0.05)
        else:
            raise StackError(f"postfix did not start (rc={rc}); log: {self.logfile('postfix')}\n"
                             f"--- tail ---\n{_tail(self.logfile('postfix'))}")
        with open(self.pidfile("postfix"), "w", encoding="ascii") as fh:
            fh.write(f"{pid}\n")
        try:
            self._wait("postfix", self._smtp_ok, timeout)
        except StackError:
            self._stop_postfix()
            raise
        return True

    def _stop_postfix(self) -> bool:
        pid = _read_pid(self.pidfile("postfix")) or self._postfix_master_pid()
        done = bool(pid) and _kill(pid, "master")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.pidfile("postfix"))
        return done

    # -- mail helpers ---------------------------------------------------------
    def imap_login(self, account: str, token: str, port: int | None = None, tls: str = "starttls",
                   mechanism: str = "XOAUTH2"):
        """An imaplib connection logged in with XOAUTH2 (or OAUTHBEARER).
        tls: "starttls" (port 10143), "ssl" (10993) or "none". Raises
        imaplib.IMAP4.error when the server refuses the token."""
        import imaplib

        if tls == "ssl":
            conn = imaplib.IMAP4_SSL(HOST, port or self.imaps_port, ssl_context=self.ssl_context(), timeout=10)
        else:
            conn = imaplib.IMAP4(HOST, port or self.imap_port, timeout=10)
            if tls == "starttls":
                conn.starttls(ssl_context=self.ssl_context())
        sent = []

        def answer(_challenge):
            if sent:
                return b""  # after a failure challenge: empty line to get the final NO
            sent.append(True)
            return sasl_initial(mechanism, account, token).encode()

        try:
            conn.authenticate(mechanism, answer)
        except Exception:
            with contextlib.suppress(Exception):
                conn.logout()
            raise
        return conn

    def imap_fetch_all(self, account: str, token: str, mailbox: str = "INBOX") -> list:
        """All messages of a mailbox as email.message.Message objects."""
        import email

        conn = self.imap_login(account, token)
        try:
            conn.select(mailbox, readonly=True)
            _typ, data = conn.search(None, "ALL")
            out = []
            for num in data[0].split():
                _typ, parts = conn.fetch(num, "(RFC822)")
                out.append(email.message_from_bytes(parts[0][1]))
            return out
        finally:
            with contextlib.suppress(Exception):
                conn.logout()

    def imap_count(self, account: str, token: str, subject_part: str) -> int:
        """How many INBOX messages have ``subject_part`` in their Subject (IMAP SEARCH, no download)."""
        conn = self.imap_login(account, token)
        try:
            conn.select("INBOX", readonly=True)
            data = conn.search(None, "SUBJECT", '"%s"' % subject_part)[1]
            return len(data[0].split())
        finally:
            conn.logout()

    def wait_for_message(self, account: str, token: str, subject: str, timeout: float = 10.0):
        """Poll the INBOX until a message with this Subject arrives; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            for msg in self.imap_fetch_all(account, token):
                if msg.get("Subject") == subject:
                    return msg
            if time.monotonic() > deadline:
                raise AssertionError(f"no message {subject!r} for {account} within {timeout}s")
            time.sleep(0.1)

    def smtp_send_xoauth2(self, account: str, token: str, to: str | None = None,
                          subject: str = "test", body: str = "hello\n", port: int | None = None,
                          starttls: bool = True, mechanism: str = "XOAUTH2") -> dict:
        """Send one message through the upstream Postfix with SASL XOAUTH2
        (or OAUTHBEARER) after STARTTLS. Returns smtplib's refused-recipients
        dict; raises smtplib.SMTPAuthenticationError when the token is refused."""
        import smtplib
        from email.message import EmailMessage

        msg = EmailMessage()
        msg["From"] = account
        msg["To"] = to or account
        msg["Subject"] = subject
        msg.set_content(body)
        with smtplib.SMTP(HOST, port or self.submission_port, local_hostname="client.example.test",
                          timeout=10) as smtp:
            if starttls:
                smtp.starttls(context=self.ssl_context())
            smtp.ehlo()
            sent = []

            def answer(challenge=None):
                if sent:
                    return ""
                sent.append(True)
                return sasl_initial(mechanism, account, token)

            smtp.auth(mechanism, answer, initial_response_ok=True)
            return smtp.send_message(msg)

    # -- leases (shared use by several pytest sessions / xdist workers) -----
    def _lease_dir(self) -> str:
        return os.path.join(self.run_dir, "leases")

    def acquire(self, idp_only: bool = True, timeout: float = 30.0, owner: int | None = None) -> list[str]:
        """start() for a test session: records a lease (this PID) and which
        services a lease holder started, so release() by the last holder
        stops only those."""
        owner = owner or os.getpid()
        with self._lock():  # one critical section: no release() can slip in between
            started = self.start(idp_only=idp_only, timeout=timeout)
            os.makedirs(self._lease_dir(), exist_ok=True)
            with open(os.path.join(self._lease_dir(), str(owner)), "w", encoding="ascii") as fh:
                fh.write("lease\n")
            marker = os.path.join(self.run_dir, "started-by-lease")
            have = set()
            if os.path.exists(marker):
                with open(marker, encoding="ascii") as fh:
                    have = set(fh.read().split())
            have.update(started)
            with open(marker, "w", encoding="ascii") as fh:
                fh.write("\n".join(sorted(have)) + "\n")
        return started

    def release(self, keep: bool = False, owner: int | None = None) -> list[str]:
        """Drop this PID's lease; when no live lease remains (and not keep),
        stop what lease holders started. Returns the services stopped."""
        owner = owner or os.getpid()
        with self._lock():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self._lease_dir(), str(owner)))
            others = []
            if os.path.isdir(self._lease_dir()):
                for name in os.listdir(self._lease_dir()):
                    if name.isdigit() and _pid_alive(int(name)):
                        others.append(name)
                    else:
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(os.path.join(self._lease_dir(), name))
            marker = os.path.join(self.run_dir, "started-by-lease")
            if others or not os.path.exists(marker):
                return []
            if keep:  # left running on purpose: later sessions treat it as started by hand
                os.unlink(marker)
                return []
            with open(marker, encoding="ascii") as fh:
                services = fh.read().split()
            os.unlink(marker)
            return self.stop(services)

    # -- environment ----------------------------------------------------------
    def env(self) -> dict:
        """Variables describing the stack (what ``stack.py env`` exports)."""
        e = {
            "XOAUTH2_STACK_DIR": self.dir,
            "XOAUTH2_STACK_ISSUER": self.issuer,
            "XOAUTH2_STACK_TOKEN_URL": f"{self.issuer}/token",
            "XOAUTH2_STACK_DEVICE_URL": f"{self.issuer}/device/auth",
            "XOAUTH2_STACK_INTROSPECTION_URL": f"{self.issuer}/token/introspection",
            "XOAUTH2_STACK_CONTROL_URL": f"{self.base_url}/control",
            "XOAUTH2_STACK_CA": self.ca_file,
            "XOAUTH2_STACK_CA_BUNDLE": self.ca_bundle,
            "XOAUTH2_STACK_CERT": self.cert_file,
            "XOAUTH2_STACK_KEY": self.key_file,
            "XOAUTH2_STACK_HOST": HOST,
        }
        for name, port in self.ports.items():
            e[f"XOAUTH2_STACK_{name.upper()}_PORT"] = str(port)
        for cid, secret in self.clients.items():
            key = cid.upper().replace("-", "_")
            e[f"XOAUTH2_STACK_CLIENT_{key}_ID"] = cid
            if secret:
                e[f"XOAUTH2_STACK_CLIENT_{key}_SECRET"] = secret
        for addr, pw in self.accounts.items():
            key = addr.split("@")[0].upper()
            e[f"XOAUTH2_STACK_ACCOUNT_{key}"] = addr
            e[f"XOAUTH2_STACK_ACCOUNT_{key}_PASSWORD"] = pw
        return e


# --------------------------------------------------------------------------
# CLI


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="stack.py", description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--dir", help="runtime dir (default $XOAUTH2_STACK_DIR or /tmp/xoauth2-stack)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p_start = sub.add_parser("start", help="start services (no-op for running ones)")
    p_start.add_argument("--idp-only", action="store_true", help="only the identity provider")
    p_start.add_argument("--timeout", type=float, default=30.0)
    sub.add_parser("stop", help="stop all services by PID")
    p_status = sub.add_parser("status", help="show PIDs; exit 0 all running, 1 some, 3 none")
    p_status.add_argument("--idp-only", action="store_true", help="exit 0 when the IdP runs")
    sub.add_parser("env", help="print shell export lines")
    args = ap.parse_args(argv)

    st = Stack(args.dir)
    if args.cmd == "start":
        t0 = time.monotonic()
        try:
            started = st.start(idp_only=args.idp_only, timeout=args.timeout)
        except StackError as exc:
            print(f"stack: {exc}", file=sys.stderr)
            return 1
        print(f"stack: started {', '.join(started) or 'nothing (already running)'} in {time.monotonic() - t0:.1f}s;"
              f" logs in {st.log_dir}")
        return 0
    if args.cmd == "stop":
        stopped = st.stop()
        print(f"stack: stopped {', '.join(stopped) or 'nothing (not running)'}")
        return 0
    if args.cmd == "status":
        status = st.status()
        for service, pid in status.items():
            print(f"{service:8} {'running pid ' + str(pid) if pid else 'stopped'}")
        wanted = ["idp"] if args.idp_only else list(status)
        up = [s for s in wanted if status[s]]
        if len(up) == len(wanted):
            return 0
        return 1 if up else 3
    if args.cmd == "env":
        for k, v in st.env().items():
            print(f"export {k}={shlex.quote(v)}")
        return 0
    return 2


if HERE not in sys.path:
    sys.path.insert(0, HERE)

if __name__ == "__main__":
    sys.exit(main())
