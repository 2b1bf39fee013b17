# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The command line: serve, status, refresh, check, check-config, hash-secret."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
import time

from . import log
from .config import DEFAULT_CONFIG, ConfigError, load_config
from .secrets import hash_secret, hash_unless_matching
from .status import CRITICAL, OK, UNKNOWN, overall

STATE_WORDS = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xoauth2-relay", description="Local SMTP to XOAUTH2 relay.")
    parser.add_argument("-c", "--config", default=os.environ.get("XOAUTH2_RELAY_CONFIG", DEFAULT_CONFIG),
                        help="configuration file (JSON; default %(default)s)")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the relay")
    serve.add_argument("--metrics-file", help="write a Prometheus textfile here (overrides metrics_file)")
    serve.add_argument("--log-level", choices=("debug", "info", "warning", "error"))
    status = sub.add_parser("status", help="token state per account (Nagios exit codes)")
    status.add_argument("--json", action="store_true")
    refresh = sub.add_parser("refresh", help="renew an account's token now")
    refresh.add_argument("account")
    check = sub.add_parser("check", help="an SMTP AUTH round trip to the account's upstream")
    check.add_argument("account")
    hashing = sub.add_parser("hash-secret", help="hash a local secret (read from stdin) for local_secret_hash")
    hashing.add_argument("--keep-matching", action="store_true",
                         help="stdin: the secret, then a stored hash on the next line; print that hash while it "
                              "still matches the secret, else a new one")
    check_config = sub.add_parser("check-config", help="load a configuration file and report what is wrong in it")
    check_config.add_argument("file", nargs="?", help="the file to check (default: the -c file)")
    return parser


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help(sys.stderr)
        return UNKNOWN
    if args.command == "hash-secret":
        return _hash_secret(args.keep_matching)
    if args.command == "check-config":
        return _check_config(args.file or args.config)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        sys.stderr.write("xoauth2-relay: configuration error: %s\n" % exc)
        return UNKNOWN if args.command == "status" else 2
    if args.command == "serve":
        if args.metrics_file:
            config.metrics_file = os.path.abspath(args.metrics_file)
        if args.log_level:
            config.log_level = args.log_level
        log.setup(config.log_level)
        from .app import serve
        try:
            return asyncio.run(serve(config))
        except OSError as exc:
            log.error("cannot_listen", address="%s:%d" % (config.listen_host, config.listen_port),
                      error=exc.strerror or str(exc))
            return 2
    if args.command == "status":
        return _status(config, args.json)
    log.setup("warning")
    try:
        account = config.account(args.account)
    except KeyError:
        sys.stderr.write("xoauth2-relay: no account %r in %s (accounts: %s)\n" % (
            args.account, config.path, ", ".join(a.name for a in config.accounts)))
        return 2
    if args.command == "refresh":
        return _refresh(config, account)
    return asyncio.run(_check(config, account))


def _hash_secret(keep_matching: bool) -> int:
    if sys.stdin.isatty() and not keep_matching:
        secret = getpass.getpass("Local secret: ")
    else:
        secret = sys.stdin.readline().rstrip("\n")
    if not secret:
        sys.stderr.write("an empty secret is not allowed\n")
        return 2
    if keep_matching:
        sys.stdout.write(hash_unless_matching(secret, sys.stdin.readline().strip()) + "\n")
    else:
        sys.stdout.write(hash_secret(secret) + "\n")
    return 0


def _check_config(path: str) -> int:
    """Exit 0 for a file the relay would load, else 2 with the key at fault (never a secret)."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        sys.stderr.write("xoauth2-relay: configuration error: %s\n" % exc)
        return 2
    sys.stdout.write("%s: valid, %d account(s)\n" % (config.path, len(config.accounts)))
    return OK


def _status(config, as_json: bool) -> int:
    results, code = overall(config)
    if as_json:
        sys.stdout.write(json.dumps({"status": STATE_WORDS[code], "exit_code": code, "accounts": results},
                                    indent=2, sort_keys=True) + "\n")
        return code
    summary = ", ".join("%s %s" % (r["account"], r["state"]) for r in results)
    sys.stdout.write("XOAUTH2-RELAY %s - %s\n" % (STATE_WORDS[code], summary))
    for r in results:
        sys.stdout.write("  %-16s %-12s expires_in=%s last_refresh=%s failures=%d %s\n" % (
            r["account"], r["state"], r.get("expires_in", "-"), r.get("last_refresh") or "-", r["failures"],
            r.get("message", "")))
    return code


def _refresh(config, account) -> int:
    from .._errors import OAuthMailError
    from .tokens import make_session
    session = make_session(account, config.timeouts.token, config.token_retries)
    try:
        outcome = session.ensure_valid(account.min_validity, force=True)
    except OAuthMailError as exc:
        sys.stderr.write("xoauth2-relay: %s: refresh failed (%s): %s\n" % (account.name, exc.category, exc))
        return CRITICAL
    view = outcome.record.public_view(time.time())
    sys.stdout.write("%s: %s, expires %s (in %d s)\n"
                     % (account.name, outcome.action, view["expires_at"], view["expires_in"]))
    return OK


async def _check(config, account) -> int:
    from .metrics import Metrics
    from .pool import UpstreamPool
    from .tokens import TokenKeeper, TokenUnavailable
    from .upstream import UpstreamError
    from concurrent.futures import ThreadPoolExecutor
    executor = ThreadPoolExecutor(max_workers=1)
    metrics = Metrics()
    keeper = TokenKeeper(account, config, executor, metrics)
    pool = UpstreamPool(account, config, keeper, metrics)
    upstream = account.upstream
    try:
        conn, dummy = await pool.acquire()
    except TokenUnavailable as exc:
        sys.stdout.write("CRITICAL: %s: no token (%s): %s\n" % (account.name, exc.category, exc.message))
        return CRITICAL
    except UpstreamError as exc:
        sys.stdout.write("CRITICAL: %s: %s\n" % (account.name, exc.message))
        return CRITICAL
    finally:
        executor.shutdown(wait=False)
    sys.stdout.write("OK: %s authenticated to %s:%d as %s over %s (token renewals: %d)\n" % (
        account.name, upstream.host, upstream.port, keeper.username, conn.tls, keeper.renewals))
    await conn.quit()
    return OK
