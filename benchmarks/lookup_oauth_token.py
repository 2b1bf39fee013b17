# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The oauth_token lookup of a valid token against lookup('file') of the same file, and 50 forks refreshing.

1. One play templates N lookups of each kind (default 1,000) in the same run, in
   alternating rounds, timed inside the template; prints both per-lookup times,
   the totals and their ratio (target: at most 2x). Needs no identity provider.
2. A delegated token whose access token expires within min_validity is looked up
   by 50 hosts with 50 forks at once; prints the number of token requests that
   reached the test identity provider (target: 1). Needs the test stack's IdP
   (started here if it is not running, and stopped again).

    .venv/bin/python benchmarks/lookup_oauth_token.py [-n 1000] [--rounds 5] [--forks 50] [--skip-forks]
"""

from __future__ import annotations

import argparse
import base64
import glob
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
sys.path.insert(0, COLLECTIONS)
sys.path.insert(0, os.path.join(REPO, "tests", "stack"))

from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile  # noqa: E402
from ansible_collections.xoauth2.mail.plugins.module_utils._token_record import TokenGrant, TokenRecord  # noqa: E402


def env():
    values = dict(os.environ)
    values.update(ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_PYTHON_INTERPRETER=sys.executable,
                  ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_INVENTORY_UNPARSED_WARNING="False",
                  ANSIBLE_NOCOLOR="1", ANSIBLE_DEPRECATION_WARNINGS="False")
    values["PATH"] = os.path.dirname(sys.executable) + os.pathsep + values.get("PATH", "")
    return values


def playbook(folder, text, *args, hosts=1):
    path = os.path.join(folder, "play.yml")
    with open(path, "w") as handle:
        handle.write(text)
    inventory = os.path.join(folder, "hosts.ini")
    with open(inventory, "w") as handle:
        handle.write("[local]\n" + "".join(
            "h%d ansible_connection=local ansible_python_interpreter=%s\n" % (n, sys.executable)
            for n in range(hosts)))
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory,
                           path] + list(args), capture_output=True, text=True, env=env(), cwd=folder, check=False)
    if proc.returncode != 0:
        raise SystemExit("playbook failed:\n%s\n%s" % (proc.stdout[-4000:], proc.stderr[-2000:]))
    return proc.stdout


def write_token(path, key, access_token, expires_in, refresh_token=None, **meta):
    now = time.time()
    record = TokenRecord().with_grant(TokenGrant(access_token=access_token, expires_in=expires_in, requested_at=now,
                                                 refresh_token=refresh_token), now)
    record.meta.update(meta)
    TokenFile(path, key).replace(record)


TIMED = """{%% set started = now().timestamp() %%}{%% for i in range(%(n)d) %%}{%% set value = %(call)s %%}{%% endfor %%}{{ now().timestamp() - started }}"""


def valid_token_benchmark(folder, n, rounds):
    key = os.urandom(32)
    key_text = base64.b64encode(key).decode()
    path = os.path.join(folder, "bench.token")
    write_token(path, key, "a" * 1200, 86400, refresh_token="r" * 800, provider="oidc",
                authority="https://idp.invalid/x", client_id="bench", flow="refresh_token", scopes=None,
                username="bench@example.test")
    ours = "lookup('xoauth2.mail.oauth_token', '%s', encryption_key='%s')" % (path, key_text)
    plain = "lookup('file', '%s')" % path
    tasks = []
    for number in range(rounds):
        for name, call in (("ours", ours), ("file", plain)):
            tasks.append("""    - name: %(name)s %(number)d
      ansible.builtin.debug:
        msg: "BENCH %(name)s {{ lambda_ }}"
      vars:
        lambda_: "%(timed)s"
""" % dict(name=name, number=number, timed=TIMED % dict(n=n, call=call)))
    out = playbook(folder, "- hosts: h0\n  gather_facts: false\n  tasks:\n" + "".join(tasks))
    found = {"ours": [], "file": []}
    for name, seconds in re.findall(r"BENCH (ours|file) ([0-9.]+)", out):
        found[name].append(float(seconds))
    if len(found["ours"]) != rounds or len(found["file"]) != rounds:
        raise SystemExit("could not read the timings:\n%s" % out[-3000:])
    ours_total = statistics.median(found["ours"])
    file_total = statistics.median(found["file"])
    print("valid token, %d lookups per round, %d rounds, medians of the rounds, one play" % (n, rounds))
    row = "  %-40s %8.3f s total, %7.1f us per lookup"
    print(row % ("lookup('xoauth2.mail.oauth_token')", ours_total, ours_total / n * 1e6))
    print(row % ("lookup('file') of the same file", file_total, file_total / n * 1e6))
    print("  ratio %.2fx (target <= 2x)" % (ours_total / file_total))
    return ours_total / file_total


def fork_benchmark(folder, forks):
    from stack import Stack

    stack = Stack()
    stack.acquire(idp_only=True)
    try:
        key = os.urandom(32)
        minted = stack.idp.mint(client_id="device-public", account="alice@example.test",
                                scope="openid offline_access mail.send")
        path = os.path.join(folder, "expiring.token")
        # A real grant; the stored access token claims 60 s of life, so every fork finds it expiring.
        write_token(path, key, minted["access_token"], 60, refresh_token=minted["refresh_token"], provider="oidc",
                    authority=stack.issuer, client_id="device-public", flow="refresh_token", scopes=None,
                    username="alice@example.test")
        before = stack.idp.counters()["token_by_client"].get("device-public", 0)
        started_at = time.monotonic()
        playbook(folder, """- hosts: local
  gather_facts: false
  tasks:
    - ansible.builtin.copy:
        dest: "%s/fork.{{ inventory_hostname }}"
        content: "{{ lookup('xoauth2.mail.oauth_token', '%s', encryption_key='%s', ca_path='%s') }}"
        mode: '0600'
      no_log: true
""" % (folder, path, base64.b64encode(key).decode(), stack.ca_file), "--forks", str(forks), hosts=forks)
        elapsed = time.monotonic() - started_at
        requests = stack.idp.counters()["token_by_client"].get("device-public", 0) - before
        values = set()
        for name in glob.glob(os.path.join(folder, "fork.*")):
            with open(name) as handle:
                values.add(handle.read())
        print("%d hosts, --forks %d, one delegated token expiring within min_validity" % (forks, forks))
        print("  token requests at the identity provider: %d (target 1)" % requests)
        print("  distinct tokens handed out: %d, play took %.1f s" % (len(values), elapsed))
        return requests
    finally:
        stack.release()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="lookups per round (default 1000)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument("--forks", type=int, default=50, help="hosts and forks for the refresh test (default 50)")
    parser.add_argument("--skip-forks", action="store_true", help="only the valid-token benchmark (no IdP)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        valid_token_benchmark(folder, options.n, options.rounds)
    if not options.skip_forks:
        with tempfile.TemporaryDirectory() as folder:
            fork_benchmark(folder, options.forks)


if __name__ == "__main__":
    main()
