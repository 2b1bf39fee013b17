#!/usr/bin/env python
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""xoauth2-relay under password guessing (issue 8), against a baseline of the same run.

One relay process (default settings; local secrets as 600,000-round PBKDF2 hashes; no upstream is
contacted). After one good login of ``alice`` (so her check is cached, as on a running relay):

* baseline: another session's NOOP round trip, and a good login of ``bob``, on the idle relay
* load:     the same while 16 clients guess ``alice``'s secret (reconnecting after each close), then
            ``carol``'s (never logged in: each guess is a PBKDF2 check)
* guesses per second the 16 clients achieved, and how long a failure takes to be answered for a
  known username (before its first good login: a PBKDF2 check) and for an unknown one

    .venv/bin/python benchmarks/relay_auth_load.py [--seconds 6] [--clients 16]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
sys.path.insert(0, COLLECTIONS)

from ansible_collections.xoauth2.mail.plugins.module_utils._relay.secrets import hash_secret  # noqa: E402

RELAY = "ansible_collections.xoauth2.mail.plugins.module_utils._relay"


def plain(user, secret):
    return "AUTH PLAIN %s" % base64.b64encode(("\0%s\0%s" % (user, secret)).encode()).decode()


class Client:
    def __init__(self, port, timeout=120):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.file = self.sock.makefile("rb")
        self.reply()

    def reply(self):
        while True:
            line = self.file.readline()
            if not line:
                raise EOFError()
            if line[3:4] != b"-":
                return line.decode().strip()

    def command(self, line):
        self.sock.sendall(line.encode() + b"\r\n")
        return self.reply()

    def close(self):
        self.file.close()
        self.sock.close()


def start_relay(folder):
    key_file = os.path.join(folder, "k")
    with open(key_file, "w") as handle:
        handle.write(base64.b64encode(os.urandom(32)).decode())
    accounts = [{"name": name, "token_file": os.path.join(folder, name + ".token"), "key_file": key_file,
                 "local_secret_hash": hash_secret("secret-" + name),
                 "upstream": {"host": "127.0.0.1", "port": 9}} for name in ("alice", "bob", "carol")]
    path = os.path.join(folder, "relay.json")
    with open(path, "w") as handle:
        json.dump({"listen": "127.0.0.1:0", "log_level": "error", "accounts": accounts}, handle)
    env = dict(os.environ, PYTHONPATH=COLLECTIONS)
    proc = subprocess.Popen([sys.executable, "-m", RELAY, "-c", path, "serve", "--log-level", "info"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env)
    for raw in proc.stderr:
        line = raw.decode()
        if " listening " in line:
            port = int(line.split("address=")[1].split()[0].rsplit(":", 1)[1])
            threading.Thread(target=lambda: [None for dummy in proc.stderr], daemon=True).start()
            return proc, port
    raise SystemExit("the relay did not start")


def timed(call):
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def login_time(port, user, secret):
    client = Client(port)
    client.command("EHLO bench.example.test")
    elapsed, reply = timed(lambda: client.command(plain(user, secret)))
    client.close()
    return elapsed, reply


def probe(port, seconds):
    """NOOP round trips on one session and good logins of bob, for ``seconds``."""
    client = Client(port)
    client.command("EHLO bench.example.test")
    noops, logins = [], []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        noops.append(timed(lambda: client.command("NOOP"))[0])
        logins.append(login_time(port, "bob", "secret-bob")[0])
        time.sleep(0.1)
    client.close()
    return noops, logins


def guesser(port, user, stop, counts):
    while not stop.is_set():
        try:
            client = Client(port, timeout=30)
            client.command("EHLO guess.example.test")
            while not stop.is_set():
                code = client.command(plain(user, "guess"))[:3]
                counts.append(code)
                if code == "421":
                    break
            client.close()
        except (OSError, EOFError):
            time.sleep(0.05)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        proc, port = start_relay(folder)
        try:
            # bob before his first good login: his check is a PBKDF2 (an unknown user's was nothing)
            known = [login_time(port, "bob", "wrong")[0] for dummy in range(2)]
            unknown = [login_time(port, "nobody", "wrong")[0] for dummy in range(2)]
            assert login_time(port, "alice", "secret-alice")[1].startswith("235")  # her check is now cached
            login_time(port, "bob", "secret-bob")
            base_noop, base_login = probe(port, 2.0)
            loads = {user: under_load(port, user, args) for user in ("alice", "carol")}
        finally:
            proc.terminate()
            proc.wait(30)
    columns = (("alice", "cached"), ("carol", "PBKDF2"))
    headers = ["%d clients guessing %s (%s check): value, ratio" % (args.clients, u, k) for u, k in columns]
    print("| measure | idle | %s |" % " | ".join(headers))
    print("|---|---|---|---|")
    for name, pick, base in (("NOOP round trip, max (s)", max, base_noop),
                             ("NOOP round trip, median (s)", statistics.median, base_noop),
                             ("good login of another user, max (s)", max, base_login)):
        index = 0 if "NOOP" in name else 1
        cells = ["%.4f, %.1fx" % (pick(loads[u][index]), pick(loads[u][index]) / pick(base)) for u, k in columns]
        print("| %s | %.4f | %s |" % (name, pick(base), " | ".join(cells)))
    print()
    for user, kind in columns:
        noops, logins, guesses, counts = loads[user]
        print("guessing %s: %.1f guesses answered per second; replies: %s" % (
            user, guesses, ", ".join("%s x%d" % (c, counts.count(c)) for c in sorted(set(counts)))))
    print("failure answered after (s): known user %.3f, unknown user %.3f, ratio %.2f"
          % (statistics.mean(known), statistics.mean(unknown), statistics.mean(known) / statistics.mean(unknown)))


def under_load(port, user, args):
    stop, counts = threading.Event(), []
    threads = [threading.Thread(target=guesser, args=(port, user, stop, counts), daemon=True)
               for dummy in range(args.clients)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    started = time.monotonic()
    noops, logins = probe(port, args.seconds)
    guesses = len(counts) / (time.monotonic() - started + 0.5)
    stop.set()
    for thread in threads:
        thread.join(60)
    return noops, logins, guesses, list(counts)


if __name__ == "__main__":
    main()
