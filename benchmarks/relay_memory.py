#!/usr/bin/env python
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Peak resident memory of xoauth2-relay with huge messages (issue 8: bounded memory).

The relay runs as its own process (a fresh one per scenario) in front of a sink
upstream (STARTTLS + AUTH XOAUTH2, accepts any size, keeps nothing: the fake
upstream of the unit tests, reading in chunks). Its peak RSS is VmHWM from
/proc/<pid>/status; the baseline is the same process's RSS once idle after
start, measured in the same run.

Scenarios:
* one 34 MB message of 3-byte lines ("x" CR LF): 11 million lines
* 50 concurrent 5 MB messages (pool.size 50, so all 50 stream upstream at once)

Target: peak RSS under 64 MB in both.

    .venv/bin/python benchmarks/relay_memory.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import shutil
import socket
import sys
import tempfile
import threading
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
sys.path.insert(0, COLLECTIONS)
sys.path.insert(0, os.path.join(REPO, "tests", "unit", "plugins", "module_utils", "relay"))

from fake_upstream import FakeUpstream, self_signed  # noqa: E402
from relay_process import expect, launch_relay, stop_process  # noqa: E402

from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile  # noqa: E402
from ansible_collections.xoauth2.mail.plugins.module_utils._token_record import TokenGrant, TokenRecord  # noqa: E402

TARGET_MIB = 64
MB = 1000 * 1000


class SinkUpstream(FakeUpstream):
    """Accepts any message and keeps only its size."""

    async def read_data(self, reader):
        tail = b"\r\n"
        while True:
            chunk = await reader.read(262144)
            if not chunk:
                return None
            window = tail + chunk
            if b"\r\n.\r\n" in window:
                return b""  # recorded as a message (with an empty body) by the caller
            tail = window[-4:]


class Upstream:
    """The sink on its own event loop thread."""

    def __init__(self, folder):
        self.cert, key = self_signed(folder)
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.sink = asyncio.run_coroutine_threadsafe(self._start(self.cert, key), self.loop).result(30)

    async def _start(self, cert, key):
        sink = SinkUpstream(cert, key)
        await sink.start()
        return sink


def write_token(folder):
    key = os.urandom(32)
    key_file = os.path.join(folder, "token.key")
    with open(key_file, "w") as handle:
        handle.write(base64.b64encode(key).decode())
    token_file = os.path.join(folder, "alice.token")
    grant = TokenGrant(access_token="at-1", expires_in=3600, requested_at=time.time())
    record = TokenRecord().with_grant(grant, grant.requested_at)
    record.meta.update(provider="oidc", authority="https://idp.test/idp", client_id="app",
                       flow="client_credentials", scopes=["mail.send"], username="alice@example.test")
    TokenFile(token_file, key).replace(record)
    return key_file, token_file


def start_relay(folder, upstream, pool_size):
    key_file, token_file = write_token(folder)
    config = {"listen": "127.0.0.1:0", "log_level": "info", "pool": {"size": pool_size},
              "timeouts": {"data": 120, "command": 120},
              "accounts": [{"name": "alice", "token_file": token_file, "key_file": key_file, "local_secret": "pw",
                            "upstream": {"host": "127.0.0.1", "port": upstream.sink.port,
                                         "ca_file": upstream.cert}}]}
    return launch_relay(config, os.path.join(folder, "relay.json"), COLLECTIONS)


def status_kib(pid, field):
    with open("/proc/%d/status" % pid) as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def send_message(port, size, line):
    """One client: AUTH, one message of ``size`` bytes made of ``line`` repeated, sent in 64 KB writes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=300)
    reader = sock.makefile("rb")
    expect(reader, 220)
    auth = base64.b64encode(b"\0alice\0pw")
    sock.sendall(b"EHLO bench.test\r\nAUTH PLAIN " + auth + b"\r\n")
    expect(reader, 250)
    expect(reader, 235)
    sock.sendall(b"MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
    for code in (250, 250, 354):
        expect(reader, code)
    block = line * (65536 // len(line))
    sent = 0
    while sent + len(block) <= size:
        sock.sendall(block)
        sent += len(block)
    sock.sendall(line * ((size - sent) // len(line)) + b".\r\nQUIT\r\n")
    expect(reader, 250)
    expect(reader, 221)
    sock.close()


def scenario(folder, upstream, name, clients, size, line):
    proc, port = start_relay(folder, upstream, pool_size=max(4, clients))
    try:
        time.sleep(1.0)
        idle = status_kib(proc.pid, "VmRSS")
        before = len(upstream.sink.messages)
        errors = []

        def one():
            try:
                send_message(port, size, line)
            except Exception as exc:  # reported below
                errors.append(repr(exc))

        started = time.perf_counter()
        threads = [threading.Thread(target=one) for dummy in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(600)
        elapsed = time.perf_counter() - started
        peak = status_kib(proc.pid, "VmHWM")
        delivered = len(upstream.sink.messages) - before
    finally:
        stop_process(proc, 30)
    return {"name": name, "idle": idle, "peak": peak, "elapsed": elapsed, "delivered": delivered,
            "clients": clients, "errors": errors, "mb": clients * size / MB}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller messages (not the target sizes)")
    args = parser.parse_args()
    scale = 0.1 if args.quick else 1.0
    folder = tempfile.mkdtemp(prefix="relay-mem-")
    try:
        upstream = Upstream(folder)
        results = [
            scenario(folder, upstream, "one %d MB message of 3-byte lines" % int(34 * scale), 1,
                     int(34 * MB * scale), b"x\r\n"),
            scenario(folder, upstream, "50 concurrent %.1f MB messages" % (5 * scale), 50,
                     int(5 * MB * scale), b"y" * 76 + b"\r\n"),
        ]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print()
    print("| scenario | delivered | MB/s | idle RSS MiB (baseline) | peak RSS MiB (VmHWM) | peak / idle "
          "| target < %d MiB |" % TARGET_MIB)
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print("| %s | %d/%d | %.0f | %.1f | %.1f | %.2fx | %s |" % (
            r["name"], r["delivered"], r["clients"], r["mb"] / r["elapsed"], r["idle"] / 1024.0,
            r["peak"] / 1024.0, r["peak"] / float(r["idle"]), "OK" if r["peak"] < TARGET_MIB * 1024 else "MISSED"))
    for r in results:
        if r["errors"]:
            print("note: %s: %d client errors, first: %s" % (r["name"], len(r["errors"]), r["errors"][0]))
    print("load average during the run: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))


if __name__ == "__main__":
    main()
