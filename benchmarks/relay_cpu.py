#!/usr/bin/env python
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The relay's own CPU per session and per message, without the test stack (issue 8).

On this 2-core machine the test stack's Postfix, Dovecot and IdP take most of the CPU, so
throughput against it moves with the load of the moment; the relay's own cost does not.
This runs xoauth2-relay (a fresh process) in front of the unit tests' fake upstream
(STARTTLS, AUTH XOAUTH2, PIPELINING; a thread of this process), drives it sequentially from
a raw-socket client with 2 KB messages and reads the relay's user and system CPU from /proc.
Modes (``--mode``, default all three), what each client connection does:

* ``session``: EHLO, AUTH PLAIN, QUIT (CPU per session)
* ``message``: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, the body, QUIT (CPU per session + message)
* ``reused``: EHLO, AUTH PLAIN, then every message of the round, QUIT (CPU per message)

MAIL, RCPT and DATA go in one write (a pipelining client, as Postfix's) unless
``--no-pipelining``. The floor, a do-nothing asyncio SMTP responder with canned replies
(benchmarks/smtp_floor.py, its own process, no upstream), is driven the same way in the
same interleaved rounds: the table gives the relay's CPU as a ratio to it, i.e. how far the
relay is from what any asyncio SMTP server in this Python costs.

With ``--compare-with CHECKOUT`` the relay of another checkout (e.g. the base commit) runs
in the same run, interleaved, and the table prints ratios against it too.

    .venv/bin/python benchmarks/relay_cpu.py [--mode all|session|message|reused] [--messages 2000]
        [--rounds 4] [--compare-with DIR] [--no-pipelining] [--cprofile]
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
from relay_process import expect, launch_relay, stop_process  # noqa: E402  (the sink upstream on its own loop, the token file)

MODES = ("session", "message", "reused")
FLOOR = "floor (smtp_floor.py)"
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


ENVELOPE = ((b"MAIL FROM:<alice@example.test>\r\n", 250), (b"RCPT TO:<bob@example.test>\r\n", 250),
            (b"DATA\r\n", 354))


def login(port):
    """A connection after the greeting, EHLO and AUTH PLAIN: (socket, reader)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    reader = sock.makefile("rb")
    expect(reader, 220)
    sock.sendall(b"EHLO bench.test\r\n")
    expect(reader, 250)
    sock.sendall(b"AUTH PLAIN " + AUTH + b"\r\n")
    expect(reader, 235)
    return sock, reader


def send(sock, reader, pipelined):
    """One 2 KB message on a logged-in connection."""
    if pipelined:
        sock.sendall(b"".join(command for command, code in ENVELOPE))
        for command, code in ENVELOPE:
            expect(reader, code)
    else:
        for command, code in ENVELOPE:
            sock.sendall(command)
            expect(reader, code)
    sock.sendall(MESSAGE + b".\r\n")
    expect(reader, 250)


def logout(sock, reader):
    sock.sendall(b"QUIT\r\n")
    expect(reader, 221)
    reader.close()
    sock.close()


def one_message(port, pipelined):
    sock, reader = login(port)
    send(sock, reader, pipelined)
    logout(sock, reader)


def run_mode(mode, port, count, pipelined):
    """``count`` sessions (session, message) or messages on one connection (reused)."""
    if mode == "reused":
        sock, reader = login(port)
        for dummy in range(count):
            send(sock, reader, pipelined)
        logout(sock, reader)
        return
    for dummy in range(count):
        sock, reader = login(port)
        if mode == "message":
            send(sock, reader, pipelined)
        logout(sock, reader)


def measure(pid, mode, port, count, pipelined):
    user0, system0 = cpu(pid)
    started = time.perf_counter()
    run_mode(mode, port, count, pipelined)
    elapsed = time.perf_counter() - started
    user1, system1 = cpu(pid)
    return user1 - user0, system1 - system0, elapsed


def start_floor():
    """smtp_floor.py as its own process: (process, port)."""
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "smtp_floor.py")], stdout=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    line = proc.stdout.readline().split()
    if len(line) != 2 or line[0] != b"listening":
        proc.kill()
        raise SystemExit("smtp_floor.py did not start")
    return proc, int(line[1])


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("all",) + MODES, default="all",
                        help="what each client connection does (default: all three, one row each)")
    parser.add_argument("--messages", type=int, default=2000,
                        help="sessions (or messages, reused) per server and mode, over all rounds")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--no-pipelining", action="store_true",
                        help="MAIL, RCPT and DATA one per write, each reply awaited (default: one write)")
    parser.add_argument("--log-level", default="info", help="the relay's log level (info: one line per message)")
    parser.add_argument("--compare-with", metavar="CHECKOUT",
                        help="another checkout of this repository (e.g. the base commit), run in the same run")
    parser.add_argument("--cprofile", action="store_true",
                        help="run this checkout's relay under cProfile (slower) and print its top functions")
    return parser.parse_args()


def main():
    args = parse_args()
    modes = MODES if args.mode == "all" else (args.mode,)
    pipelined = not args.no_pipelining
    folder = tempfile.mkdtemp(prefix="relay-cpu-")
    servers = []
    totals = {}
    profile_to = os.path.join(folder, "relay.prof") if args.cprofile else None
    try:
        servers.append((FLOOR, start_floor()))
        upstream = relay_memory.Upstream(folder)
        if args.compare_with:
            other = os.path.join(os.path.abspath(args.compare_with), ".build", "collections")
            servers.append(("baseline (%s)" % os.path.basename(os.path.abspath(args.compare_with)),
                            start_relay(folder, upstream, other, "baseline", args.log_level)))
        servers.append(("this checkout", start_relay(folder, upstream, relay_memory.COLLECTIONS, "this",
                                                     args.log_level, profile_to)))
        for name, (proc, port) in servers:
            for mode in modes:
                run_mode(mode, port, 20, pipelined)  # warm-up: pool connection, caches
        per_round = max(1, args.messages // args.rounds)
        for dummy in range(args.rounds):
            for name, (proc, port) in servers:
                for mode in modes:
                    figures = measure(proc.pid, mode, port, per_round, pipelined)
                    total = totals.setdefault((name, mode), [0.0, 0.0, 0.0, 0])
                    for index, value in enumerate(figures + (per_round,)):
                        total[index] += value
    finally:
        for name, (proc, port) in servers:
            stop_process(proc, 20)
        if profile_to and os.path.exists(profile_to):
            import pstats
            pstats.Stats(profile_to).sort_stats("tottime").print_stats(40)
        shutil.rmtree(folder, ignore_errors=True)
    report([name for name, dummy in servers], modes, totals, args.log_level, pipelined)


UNITS = {"session": "session", "message": "session+msg", "reused": "msg"}


def report(names, modes, totals, log_level, pipelined):
    relays = [name for name in names if name != FLOOR]
    base_name = relays[0]
    print()
    print("relay CPU per session / message, fake upstream, %s client, log level %s"
          % ("pipelining" if pipelined else "one command per write", log_level))
    print("| server | mode | per | count | user us | system us | CPU us | CPU vs %s | CPU vs floor | per s "
          "| per s vs %s |" % (base_name, base_name))
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for mode in modes:
        floor = totals[(FLOOR, mode)]
        floor_cpu = (floor[0] + floor[1]) / floor[3]
        base = totals[(base_name, mode)]
        base_cpu = (base[0] + base[1]) / base[3]
        base_rate = base[3] / base[2]
        for name in names:
            user, system, elapsed, count = totals[(name, mode)]
            per = (user + system) / count
            versus_base = "%.2fx" % (per / base_cpu) if name != FLOOR else "-"
            print("| %s | %s | %s | %d | %.0f | %.0f | %.0f | %s | %.2fx | %.0f | %.2fx |" % (
                name, mode, UNITS[mode], count, user / count * 1e6, system / count * 1e6, per * 1e6,
                versus_base, per / floor_cpu, count / elapsed, count / elapsed / base_rate))
    print("load average during the run: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))


if __name__ == "__main__":
    main()
