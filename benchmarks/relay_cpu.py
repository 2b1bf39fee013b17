#!/usr/bin/env python
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The relay's own CPU per message, without the test stack (issue 8: the relay's work per session).

On this 2-core machine the test stack's Postfix, Dovecot and IdP take most of the CPU, so
throughput against it moves with the load of the moment; the relay's own cost does not.
This runs xoauth2-relay (a fresh process) in front of the unit tests' fake upstream
(STARTTLS, AUTH XOAUTH2, PIPELINING; a thread of this process) and sends 2 KB messages,
one per client connection (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT), sequentially from a
raw-socket client, and reads the relay's user and system CPU from /proc.

With ``--compare-with CHECKOUT`` the relay of another checkout (e.g. the base commit) runs
in the same run, interleaved, and the table prints ratios against it.

    .venv/bin/python benchmarks/relay_cpu.py [--messages 2000] [--rounds 4] [--compare-with DIR]
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

import relay_memory  # noqa: E402
from relay_process import expect, launch_relay  # noqa: E402  (the sink upstream on its own loop, the token file)

TICK = os.sysconf("SC_CLK_TCK")
AUTH = base64.b64encode(b"\0alice\0pw")


def cpu(pid):
    """(user, system) CPU seconds of a process."""
    with open("/proc/%d/stat" % pid) as handle:
        values = handle.read().rsplit(")", 1)[1].split()
    return int(values[11]) / float(TICK), int(values[12]) / float(TICK)


def start_relay(folder, upstream, collections, name, log_level, profile_to=None):
    key_file, token_file = relay_memory.write_token(folder)
    config = {"listen": "127.0.0.1:0", "log_level": log_level, "pool": {"size": 4},
              "accounts": [{"name": "alice", "token_file": token_file, "key_file": key_file, "local_secret": "pw",
                            "upstream": {"host": "127.0.0.1", "port": upstream.sink.port,
                                         "ca_file": upstream.cert}}]}
    return launch_relay(config, os.path.join(folder, name + ".json"), collections,
                        serve_args=["--log-level", log_level], profile_to=profile_to,
                        what="the relay from %s" % collections)


MESSAGE = (b"From: alice@example.test\r\nTo: bob@example.test\r\nSubject: cpu bench\r\n\r\n"
           + b"x" * 74 + b"\r\n") * 26


def one_message(port, pipelined):
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    reader = sock.makefile("rb")
    expect(reader, 220)
    sock.sendall(b"EHLO bench.test\r\n")
    expect(reader, 250)
    sock.sendall(b"AUTH PLAIN " + AUTH + b"\r\n")
    expect(reader, 235)
    envelope = (b"MAIL FROM:<alice@example.test>\r\n", b"RCPT TO:<bob@example.test>\r\n", b"DATA\r\n")
    if pipelined:
        sock.sendall(b"".join(envelope))
        for code in (250, 250, 354):
            expect(reader, code)
    else:
        for command, code in zip(envelope, (250, 250, 354)):
            sock.sendall(command)
            expect(reader, code)
    sock.sendall(MESSAGE + b".\r\n")
    expect(reader, 250)
    sock.sendall(b"QUIT\r\n")
    expect(reader, 221)
    reader.close()
    sock.close()


def measure(proc, port, count, pipelined):
    user0, system0 = cpu(proc.pid)
    started = time.perf_counter()
    for dummy in range(count):
        one_message(port, pipelined)
    elapsed = time.perf_counter() - started
    user1, system1 = cpu(proc.pid)
    return user1 - user0, system1 - system0, elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000, help="per relay and mode, over all rounds")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--log-level", default="info", help="the relay's log level (info: one line per message)")
    parser.add_argument("--compare-with", metavar="CHECKOUT",
                        help="another checkout of this repository (e.g. the base commit), run in the same run")
    parser.add_argument("--cprofile", action="store_true",
                        help="run this checkout's relay under cProfile (slower) and print its top functions")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="relay-cpu-")
    relays = []
    try:
        upstream = relay_memory.Upstream(folder)
        if args.compare_with:
            other = os.path.join(os.path.abspath(args.compare_with), ".build", "collections")
            relays.append(("baseline (%s)" % os.path.basename(os.path.abspath(args.compare_with)),
                           start_relay(folder, upstream, other, "baseline", args.log_level)))
        profile_to = os.path.join(folder, "relay.prof") if args.cprofile else None
        relays.append(("this checkout", start_relay(folder, upstream, relay_memory.COLLECTIONS, "this",
                                                    args.log_level, profile_to)))
        totals = {}
        for name, (proc, port) in relays:
            for pipelined in (False, True):
                measure(proc, port, 20, pipelined)  # warm-up: pool connection, caches
        per_round = max(1, args.messages // args.rounds)
        for dummy in range(args.rounds):
            for name, (proc, port) in relays:
                for pipelined in (False, True):
                    user, system, elapsed = measure(proc, port, per_round, pipelined)
                    total = totals.setdefault((name, pipelined), [0.0, 0.0, 0.0, 0])
                    total[0] += user
                    total[1] += system
                    total[2] += elapsed
                    total[3] += per_round
    finally:
        for name, (proc, port) in relays:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if profile_to:
            import pstats
            pstats.Stats(profile_to).sort_stats("tottime").print_stats(40)
        shutil.rmtree(folder, ignore_errors=True)
    report(relays, totals, args.log_level)


def report(relays, totals, log_level):
    base_name = relays[0][0]
    print()
    print("relay CPU per message, one message per client connection, fake upstream, log level %s" % log_level)
    print("| relay | client | messages | user us/msg | system us/msg | CPU us/msg | CPU vs %s | msg/s "
          "| msg/s vs %s |" % (base_name, base_name))
    print("|---|---|---|---|---|---|---|---|---|")
    for pipelined in (False, True):
        base = totals[(base_name, pipelined)]
        base_cpu = (base[0] + base[1]) / base[3]
        base_rate = base[3] / base[2]
        for name, dummy in relays:
            user, system, elapsed, count = totals[(name, pipelined)]
            per = (user + system) / count
            print("| %s | %s | %d | %.0f | %.0f | %.0f | %.2fx | %.0f | %.2fx |" % (
                name, "pipelined" if pipelined else "one command per write", count, user / count * 1e6,
                system / count * 1e6, per * 1e6, per / base_cpu, count / elapsed, count / elapsed / base_rate))
    print("load average during the run: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))


if __name__ == "__main__":
    main()
