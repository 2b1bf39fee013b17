#!/usr/bin/env python
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where xoauth2-relay's own time goes per message (issue 8: the relay's work per session).

Runs the helper in front of the test stack's upstream Postfix (as relay_throughput.py
does) and sends messages one per client connection, sequentially, then prints:

* CPU time per message of the helper, of this client and of the upstream side
  (Postfix, Dovecot and the IdP processes of the stack), from /proc: where a
  sequential message's time goes;
* with ``--cprofile``, the helper's own top functions (cProfile, cumulative and
  internal time) for the same messages.

    .venv/bin/python benchmarks/relay_profile.py [--messages 400] [--pipelined] [--cprofile]
"""

from __future__ import annotations

import argparse
import os
import pstats
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import relay_throughput as bench  # noqa: E402
from process_cpu import cpu_seconds, stack_pids  # noqa: E402


def print_collapsed(path, top):
    """Own and total samples per frame from py-spy's collapsed stacks (``frame;frame;... count``)."""
    own, total, samples = {}, {}, 0
    with open(path) as handle:
        for line in handle:
            stack, dummy, count = line.rstrip("\n").rpartition(" ")
            frames = stack.split(";")[1:]  # the first is the thread
            count = int(count)
            samples += count
            if frames:
                own[frames[-1]] = own.get(frames[-1], 0) + count
            for frame in set(frames):
                total[frame] = total.get(frame, 0) + count
    print("\npy-spy: %d samples while the helper ran (not idle)" % samples)
    for title, table in (("own", own), ("total (with callees)", total)):
        print("| %s | samples | share |" % title)
        print("|---|---|---|")
        for frame, count in sorted(table.items(), key=lambda item: -item[1])[:top]:
            print("| %s | %d | %.1f%% |" % (frame[:110], count, 100.0 * count / max(1, samples)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--pipelined", action="store_true", help="MAIL, RCPT and DATA in one write")
    parser.add_argument("--cprofile", action="store_true", help="run the helper under cProfile and print its top")
    parser.add_argument("--py-spy", metavar="FILE", dest="pyspy",
                        help="sample the helper with py-spy (native frames too) during the measured messages "
                             "and write collapsed stacks to FILE (py-spy from requirements-dev.txt)")
    parser.add_argument("--attach", metavar="COMMAND",
                        help="run COMMAND ({pid} is the helper's pid) during the measured messages, then send it "
                             "SIGINT: e.g. 'strace -c -f -o /tmp/sys.txt -p {pid}' or 'perf record -g -p {pid}'")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()

    stack = bench.Stack()
    started_services = stack.start(idp_only=False)
    folder = tempfile.mkdtemp(prefix="relay-profile-")
    profile_to = os.path.join(folder, "relay.prof") if args.cprofile else None
    try:
        key_file, token_file = bench.seed_token(stack, folder)
        helper, port = bench.start_helper(stack, folder, key_file, token_file, profile_to=profile_to)

        def connect():
            return bench.plain_connection(port, "alice", "bench-secret")

        bench.run_mode("warm-up", "1 msg/conn", 20, connect, args.pipelined)
        others = stack_pids(stack)
        before = (cpu_seconds(helper.pid, (11,)), cpu_seconds(helper.pid, (12,)), time.process_time(),
                  sum(cpu_seconds(p) for p in others))
        spy = None
        if args.pyspy:
            spy = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "py-spy"), "record", "-p",
                                    str(helper.pid), "-r", "1000", "--native", "-f", "raw", "-o", args.pyspy],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)
        attached = None
        if args.attach:
            attached = subprocess.Popen(args.attach.replace("{pid}", str(helper.pid)), shell=True,
                                        start_new_session=True)
            time.sleep(1.0)
        result = bench.run_mode("relay", "1 msg/conn", args.messages, connect, args.pipelined)
        if attached is not None:
            os.killpg(attached.pid, signal.SIGINT)
            attached.wait(30)
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        after = (cpu_seconds(helper.pid, (11,)), cpu_seconds(helper.pid, (12,)), time.process_time(),
                 sum(cpu_seconds(p) for p in stack_pids(stack)))
        helper.send_signal(signal.SIGTERM)
        helper.wait(30)
        n = float(args.messages)
        wall = result.elapsed / n * 1000
        print("\n%d messages, one per connection%s: %.0f msg/s, %.2f ms per message (wall)" % (
            args.messages, ", pipelined" if args.pipelined else "", result.rate, wall))
        print("| CPU per message | ms | share of wall |")
        print("|---|---|---|")
        for name, index in (("helper (xoauth2-relay), user", 0), ("helper (xoauth2-relay), system", 1),
                            ("client (smtplib, this process)", 2), ("upstream (Postfix, Dovecot, IdP)", 3)):
            ms = (after[index] - before[index]) / n * 1000
            print("| %s | %.2f | %.0f%% |" % (name, ms, 100 * ms / wall))
        if args.pyspy:
            print_collapsed(args.pyspy, args.top)
        if profile_to:
            print()
            stats = pstats.Stats(profile_to)
            stats.sort_stats("tottime").print_stats(args.top)
            stats.sort_stats("cumulative").print_stats(args.top)
    finally:
        if started_services:
            stack.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
