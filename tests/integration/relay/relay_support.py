# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers for the relay helper's tests: token files, config files, a running helper process."""
from __future__ import annotations

import base64
import json
import os
import re
import signal
import smtplib
import subprocess
import sys
import threading
import time
import uuid
from email.message import EmailMessage

import processes
from ansible_collections.xoauth2.mail.plugins.module_utils._session import TokenSession
from ansible_collections.xoauth2.mail.plugins.module_utils._settings import TokenSettings
from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile
from ansible_collections.xoauth2.mail.plugins.module_utils._providers import create_provider

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
RELAY_MODULE = "ansible_collections.xoauth2.mail.plugins.module_utils._relay"
# The interpreter that runs the helper (e.g. a Python 3.9 venv, to test the oldest supported one).
RELAY_PYTHON = os.environ.get("XOAUTH2_RELAY_TEST_PYTHON") or sys.executable

MAILBOX = {"relay-app": "alice@example.test", "relay-app-bob": "bob@example.test"}


def env():
    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.pathsep.join([COLLECTIONS, environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return environ


def write_key(path) -> bytes:
    key = os.urandom(32)
    with open(path, "w") as handle:
        handle.write(base64.b64encode(key).decode() + "\n")
    os.chmod(path, 0o600)
    return key


def make_token(stack, path, key, client_id="relay-app", force=False):
    """An app-only token file made with the core, as the module would."""
    settings = TokenSettings(provider="oidc", authority=stack.issuer, client_id=client_id,
                             client_secret=stack.clients[client_id], scopes=["mail.send"],
                             username=MAILBOX[client_id], ca_path=stack.ca_file, timeout=10, retries=0)
    session = TokenSession(settings, TokenFile(path, key), provider_factory=create_provider)
    return session.ensure_valid(600, force=force).record


def make_delegated_token(stack, idp, path, key, account="alice@example.test"):
    """A delegated token (refresh_token flow) seeded from a real grant."""
    minted = idp.mint(client_id="device-public", account=account, scope="openid offline_access mail.send")
    TokenFile(path, key).remove()  # else the core would reuse the old file's sealed client secret
    settings = TokenSettings(provider="oidc", authority=stack.issuer, client_id="device-public",
                             refresh_token=minted["refresh_token"], username=account,
                             ca_path=stack.ca_file, timeout=10, retries=0)
    session = TokenSession(settings, TokenFile(path, key), provider_factory=create_provider)
    return session.ensure_valid(600).record


def account_entry(stack, tmp_path, name, client_id, key_file, port=None, **extra):
    entry = {
        "name": name,
        "username": MAILBOX[client_id],
        "token_file": str(tmp_path / ("%s.token" % name)),
        "key_file": str(key_file),
        "provider_ca_file": stack.ca_file,
        "local_username": name,
        "local_secret": "local-%s" % name,
        "upstream": {"host": "127.0.0.1", "port": port or stack.submission_port, "security": "starttls",
                     "ca_file": stack.ca_file},
    }
    entry.update(extra)
    return entry


def write_config(path, accounts, **top):
    data = {"listen": "127.0.0.1:0", "log_level": "info", "token_retries": 0, "token_retry_backoff": 0,
            "timeouts": {"token": 20, "connect": 20, "command": 30, "data": 60, "shutdown": 30},
            "accounts": accounts}
    data.update(top)
    with open(path, "w") as handle:
        json.dump(data, handle, indent=2)
    return str(path)


class RelayProcess:
    """``xoauth2-relay serve`` as a child process; collects its stderr."""

    def __init__(self, config_path, extra_args=()):
        self.config_path = config_path
        self.proc = subprocess.Popen(
            [RELAY_PYTHON, "-m", RELAY_MODULE, "-c", config_path, "serve"] + list(extra_args),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env())
        self.lines = []
        self._ready = threading.Event()
        self.port = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(60):
            self.stop()
            raise AssertionError("relay did not start: %s" % self.log)
        if self.port is None:
            raise AssertionError("relay failed to start: %s" % self.log)

    def _read(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace")
            self.lines.append(line)
            match = re.search(r" listening address=[^ ]*:(\d+)", line)
            if match:
                self.port = int(match.group(1))
                self._ready.set()
        self._ready.set()

    @property
    def log(self):
        return "".join(self.lines)

    def wait_log(self, *texts, timeout=20):
        """True once every text has appeared in the log (the reader thread may lag the relay)."""
        return bool(wait_until(lambda: all(text in self.log for text in texts), timeout=timeout))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=30):
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._reader.join(5)
        if self.proc.stdout:
            self.proc.stdout.close()


def message(sender, to, subject=None, body="hello from the relay test\n", size=None):
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject or "relay-%s" % uuid.uuid4().hex
    if size:
        body = ("x" * 76 + "\n") * max(1, size // 77)
    msg.set_content(body)
    return msg


def smtp(port, timeout=30):
    return smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.test", timeout=timeout)


def send(port, user, secret, msg, mechanism=None):
    with smtp(port) as client:
        client.ehlo()
        if mechanism:
            client.user, client.password = user, secret
            client.auth(mechanism, getattr(client, "auth_" + mechanism.lower()), initial_response_ok=True)
        else:
            client.login(user, secret)
        return client.send_message(msg)


def relay_cli(config_path, *args, timeout=60):
    return subprocess.run([RELAY_PYTHON, "-m", RELAY_MODULE, "-c", config_path] + list(args),
                          capture_output=True, env=env(), timeout=timeout, check=False)


def fresh_token(idp, client_id="relay-app"):
    """A token for reading the mailbox back over IMAP (not the relay's)."""
    return idp.client_credentials(client_id)["access_token"]


def wait_until(check, timeout=20, interval=0.05):
    return processes.wait_until(check, timeout, interval)


def imap_count(stack, idp, account, subject_part):
    """How many messages in the INBOX have ``subject_part`` in their Subject."""
    return stack.imap_count(account, fresh_token(idp), subject_part)


def wait_for_subject(stack, account, token, subject, timeout=60):
    """The message with this Subject once it is in the INBOX (IMAP SEARCH, then one FETCH): unlike
    fetching the whole mailbox, this stays fast however many messages earlier runs left there."""
    import email
    deadline = time.monotonic() + timeout
    while True:
        conn = stack.imap_login(account, token)
        try:
            conn.select("INBOX", readonly=True)
            _typ, data = conn.search(None, "SUBJECT", '"%s"' % subject)
            numbers = data[0].split()
            if numbers:
                _typ, parts = conn.fetch(numbers[-1], "(RFC822)")
                return email.message_from_bytes(parts[0][1])
        finally:
            conn.logout()
        if time.monotonic() > deadline:
            raise AssertionError("no message %r for %s within %s s" % (subject, account, timeout))
        time.sleep(0.2)
