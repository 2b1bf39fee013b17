#!/usr/bin/env python
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The module's no-change path (a valid token) against ansible.builtin.stat on the same file.

Both run N times, interleaved, as Ansible runs a module on a host: a Python
process given a JSON arguments file. Prints both medians and their ratio
(target: at most 1.3x). Needs no identity provider: the valid token is written
through the core directly.

    .venv/bin/python benchmarks/module_no_change.py [-n 40]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
sys.path.insert(0, COLLECTIONS)

from ansible_collections.xoauth2.mail.plugins.module_utils._settings import TokenSettings  # noqa: E402
from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile  # noqa: E402
from ansible_collections.xoauth2.mail.plugins.module_utils._token_record import TokenGrant, TokenRecord  # noqa: E402


def write_valid_token(folder: str, settings: TokenSettings, key: bytes) -> str:
    path = os.path.join(folder, "bench.token")
    grant = TokenGrant(access_token="a" * 1200, expires_in=86400, requested_at=time.time(), refresh_token="r" * 800)
    record = TokenRecord().with_grant(grant, time.time())
    record.meta.update(settings.resolved().identity())
    record.secrets["client_credential"] = {"secret": settings.client_secret}
    TokenFile(path, key).replace(record)
    return path


def args_file(folder: str, name: str, args: dict) -> str:
    path = os.path.join(folder, name + ".json")
    with open(path, "w") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
    return path


def run_once(command, env) -> float:
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    result = json.loads(proc.stdout.decode()[proc.stdout.decode().index("{"):])
    if result.get("failed") or result.get("changed"):
        raise SystemExit("unexpected result: %s" % result)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=40, help="runs of each module (default 40)")
    options = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=COLLECTIONS)
    key = os.urandom(32)
    settings = TokenSettings(provider="microsoft", tenant_id="contoso.example", client_id="bench",
                             client_secret="bench-secret", username="bench@example.test")
    with tempfile.TemporaryDirectory() as folder:
        token = write_valid_token(folder, settings, key)
        ours = [sys.executable, os.path.join(REPO, "plugins", "modules", "oauth_mail_token.py"), args_file(
            folder, "ours", dict(path=token, provider="microsoft", tenant_id="contoso.example", client_id="bench",
                                 client_secret="bench-secret", username="bench@example.test",
                                 encryption_key=base64.b64encode(key).decode()))]
        stat = [sys.executable, "-m", "ansible.modules.stat", args_file(folder, "stat", dict(path=token))]
        for command in (ours, stat):  # warm the page cache and .pyc files
            run_once(command, env)
        times = {"oauth_mail_token": [], "stat": []}
        for dummy in range(options.n):
            times["oauth_mail_token"].append(run_once(ours, env))
            times["stat"].append(run_once(stat, env))
    ours_median = statistics.median(times["oauth_mail_token"]) * 1000
    stat_median = statistics.median(times["stat"]) * 1000
    print("module no-change path, %d runs each, interleaved" % options.n)
    print("%-34s %8.1f ms (median)" % ("xoauth2.mail.oauth_mail_token", ours_median))
    print("%-34s %8.1f ms (median)" % ("ansible.builtin.stat (baseline)", stat_median))
    print("ratio %.2fx (target <= 1.3x)" % (ours_median / stat_median))


if __name__ == "__main__":
    main()
