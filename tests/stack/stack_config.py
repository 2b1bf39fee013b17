# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every part of the test stack shares: the fixture data, the default ports and folder, the error type."""

from __future__ import annotations

import json
import os

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


def _int_env(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def ports_from_env() -> dict:
    """The default ports, each overridden by ``XOAUTH2_STACK_<NAME>_PORT`` when set."""
    return {k: _int_env(f"XOAUTH2_STACK_{k.upper()}_PORT", v) for k, v in DEFAULT_PORTS.items()}


def runtime_dir_from_env(runtime_dir: str | None = None) -> str:
    """The runtime folder: the one given, else ``$XOAUTH2_STACK_DIR``, else /tmp/xoauth2-stack."""
    return os.path.abspath(runtime_dir or os.environ.get("XOAUTH2_STACK_DIR") or DEFAULT_DIR)


def write_text(path: str, text: str, mode: int = 0o644) -> None:
    """Replace a generated file at once (a reader never sees half of it)."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
