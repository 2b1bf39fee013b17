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

This file is the entry point; each service lives in its own module beside it
(idp_service, dovecot_service, postfix_upstream, pki, service_accounts). See
README.md next to this file.
"""

from __future__ import annotations

import argparse
import os
import shlex
import ssl
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # the modules beside this file, also when it is imported by path
    sys.path.insert(0, HERE)

# pylint: disable=wrong-import-position
import pki  # noqa: E402
import service_accounts  # noqa: E402
from device_pages import DeviceApprovalError  # noqa: E402,F401  (part of this module's API)
from dovecot_service import DovecotService  # noqa: E402
from idp_control import IdpControl, http_session  # noqa: E402
from idp_service import IdpService  # noqa: E402
from leases import Leases, RuntimeLock  # noqa: E402
from mail_helpers import MailHelpers, sasl_initial  # noqa: E402,F401
from postfix_upstream import PostfixUpstream  # noqa: E402
from stack_config import (  # noqa: E402,F401
    ACCOUNTS, CLIENT_MAILBOXES, CLIENTS, DEFAULT_DIR, DEFAULT_PORTS, FIXTURES, FIXTURES_FILE, HOST, IDP_DIR,
    MAIL_GROUP, MAIL_USER, SERVICE_ACCOUNTS, StackError,
)
from stack_env import stack_variables  # noqa: E402
from stack_layout import StackLayout  # noqa: E402

# What other code imports from this module (the split moved these into the service files).
__all__ = [
    "ACCOUNTS", "CLIENT_MAILBOXES", "CLIENTS", "DEFAULT_DIR", "DEFAULT_PORTS", "DeviceApprovalError", "FIXTURES",
    "FIXTURES_FILE", "HOST", "IDP_DIR", "IdpControl", "MAIL_GROUP", "MAIL_USER", "SERVICE_ACCOUNTS", "Stack",
    "StackError", "sasl_initial",
]


def service_accounts_public_keys() -> str:
    return service_accounts.PUBLIC_KEYS


class Stack(StackLayout, MailHelpers):
    """The test stack in one runtime directory.

    Attributes: ``dir``, ``issuer``, ``ca_file`` (test CA), ``ca_bundle``
    (system CAs + test CA), ``cert_file``/``key_file`` (server), ``clients``
    (id -> secret or None), ``client_mailboxes``, ``accounts`` (address ->
    password), ``ports`` (dict), ``idp_port``, ``imap_port``, ``imaps_port``,
    ``submission_port``, ``submission_plain_port``, ``idp`` (IdpControl).
    Paths come from StackLayout, the mail helpers from MailHelpers.
    """

    SERVICES = ("idp", "dovecot", "postfix")

    def __init__(self, runtime_dir: str | None = None):
        super().__init__(runtime_dir)
        self.idp = IdpControl(self.base_url, self.issuer, self.ca_file)
        self.services = {
            "idp": IdpService(self, self.idp),
            "dovecot": DovecotService(self),
            "postfix": PostfixUpstream(self),
        }
        self._runtime_lock = RuntimeLock(self.dir)
        self._leases = Leases(self.run_dir)

    def service_account_key_file(self, client_email: str = "mail-relay@xoauth2-test.iam.gserviceaccount.com") -> str:
        """Path of the Google-style JSON key file of a test service account (written by start)."""
        return service_accounts.key_file(self.google_dir, self.service_accounts[client_email]["client_id"])

    def http(self):
        """A requests.Session that trusts the test CA (and ignores REQUESTS_CA_BUNDLE)."""
        return http_session(self.ca_file)

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def _lock(self):
        """Inter-process lock on the runtime dir (re-entrant within this object)."""
        return self._runtime_lock.held()

    def _prepare(self):
        for d in (self.dir, self.log_dir, self.run_dir):
            os.makedirs(d, exist_ok=True)
        pki.ensure(self.pki_dir)
        service_accounts.ensure(self.google_dir, self.service_accounts, self.token_url)

    # -- status -------------------------------------------------------------
    def pid(self, service: str) -> int | None:
        """PID of a running service, or None."""
        return self.services[service].pid()

    def status(self) -> dict:
        return {s: self.pid(s) for s in self.SERVICES}

    def running(self, service: str = "idp") -> bool:
        return self.pid(service) is not None

    # -- start / stop -------------------------------------------------------
    def start(self, idp_only: bool = False, timeout: float = 30.0) -> list[str]:
        """Start what is not running yet; wait until each answers. Returns the
        services this call started (empty if all were running)."""
        started = []
        wanted = ("idp",) if idp_only else self.SERVICES
        with self._lock():
            try:
                self._prepare()
                for service in wanted:
                    if self.services[service].start(timeout):
                        started.append(service)
            except BaseException:
                # all or nothing: do not leave behind what this call started
                for service in reversed(started):
                    self.services[service].stop()
                raise
        return started

    def stop(self, services=None) -> list[str]:
        """Stop services (default all) by PID; idempotent. Returns those stopped."""
        stopped = []
        with self._lock():
            for service in reversed(self.SERVICES):
                if services is not None and service not in services:
                    continue
                if self.services[service].stop():
                    stopped.append(service)
        return stopped

    # -- leases (shared use by several pytest sessions / xdist workers) -----
    def acquire(self, idp_only: bool = True, timeout: float = 30.0, owner: int | None = None) -> list[str]:
        """start() for a test session: records a lease (this PID) and which
        services a lease holder started, so release() by the last holder
        stops only those."""
        owner = owner or os.getpid()
        with self._lock():  # one critical section: no release() can slip in between
            started = self.start(idp_only=idp_only, timeout=timeout)
            self._leases.add(owner, started)
        return started

    def release(self, keep: bool = False, owner: int | None = None) -> list[str]:
        """Drop this PID's lease; when no live lease remains (and not keep),
        stop what lease holders started. Returns the services stopped."""
        owner = owner or os.getpid()
        with self._lock():
            if self._leases.drop(owner):
                return []
            services = self._leases.take_started()
            # keep: left running on purpose, so later sessions treat it as started by hand
            if services is None or keep:
                return []
            return self.stop(services)

    # -- environment ----------------------------------------------------------
    def env(self) -> dict:
        """Variables describing the stack (what ``stack.py env`` exports)."""
        return stack_variables(self)


# --------------------------------------------------------------------------
# CLI


def _parser() -> argparse.ArgumentParser:
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
    return ap


def _cmd_start(st: Stack, args) -> int:
    t0 = time.monotonic()
    try:
        started = st.start(idp_only=args.idp_only, timeout=args.timeout)
    except StackError as exc:
        print(f"stack: {exc}", file=sys.stderr)
        return 1
    print(f"stack: started {', '.join(started) or 'nothing (already running)'} in {time.monotonic() - t0:.1f}s;"
          f" logs in {st.log_dir}")
    return 0


def _cmd_stop(st: Stack, _args) -> int:
    stopped = st.stop()
    print(f"stack: stopped {', '.join(stopped) or 'nothing (not running)'}")
    return 0


def _cmd_status(st: Stack, args) -> int:
    status = st.status()
    for service, pid in status.items():
        print(f"{service:8} {'running pid ' + str(pid) if pid else 'stopped'}")
    wanted = ["idp"] if args.idp_only else list(status)
    up = [s for s in wanted if status[s]]
    if len(up) == len(wanted):
        return 0
    return 1 if up else 3


def _cmd_env(st: Stack, _args) -> int:
    for k, v in st.env().items():
        print(f"export {k}={shlex.quote(v)}")
    return 0


COMMANDS = {"start": _cmd_start, "stop": _cmd_stop, "status": _cmd_status, "env": _cmd_env}


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    command = COMMANDS.get(args.cmd)
    if command is None:
        return 2
    return command(Stack(args.dir), args)


if __name__ == "__main__":
    sys.exit(main())
