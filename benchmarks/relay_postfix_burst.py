#!/usr/bin/env python
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Postfix in front of xoauth2-relay: a burst and a trickle, with and without a permanent connection cache.

A separate Postfix instance configured by the postfix_relay role itself (one sender, alice, with her own
helper login: smtp_sender_dependent_authentication as the role sets it), relayhost = an xoauth2-relay
(relay_throughput.start_helper) in front of the test stack's upstream Postfix. Two settings of the role:

* cache off   postfix_relay_connection_cache: false (the role before 1.1: on-demand caching only)
* cache on    postfix_relay_connection_cache: true (smtp_connection_cache_destinations = the relay host)

and two loads for each:

* burst       ``--messages`` messages put on hold as they are submitted (sendmail; a header_checks HOLD
              rule on their Subject), then released at once (postsuper -H, postqueue -f): all of them in
              the queue together, as after a cron job or an outage
* trickle     ``--trickle`` messages one at a time, each submitted ``--gap`` seconds after the previous
              one left the queue: a quiet host

Printed per row: messages, wall time (release to empty queue and every message in the relay's log),
msg/s, relay sessions (distinct ``session`` ids on the relay's ``message`` lines), messages per session,
relay CPU per message, and failures (messages the relay did not log with a 2xx, and mail left deferred).
Rates and CPU are also given as ratios against the cache-off row of the same load, measured in the same run.

    .venv/bin/python benchmarks/relay_postfix_burst.py [--messages 200] [--trickle 20] [--gap 0.5]

Needs root and Debian's postfix package; the stack is started if it is not running (and stopped at the end).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import relay_throughput as bench  # noqa: E402  (puts tests/stack on sys.path)
import postfix_role_instance as instance  # noqa: E402

RELAY_USER, RELAY_SECRET = "alice", "bench-secret"
HOLD_MARK = "burst-hold"


class RelayLog:
    """The helper's ``message`` lines, read from its log as they come: (session id, upstream reply code)."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    def drain(self, stream):
        for raw in stream:
            line = raw.decode("utf-8", "replace")
            match = re.search(r" INFO message session=(\S+) .* upstream=\"?(\d{3})", line)
            if match:
                with self.lock:
                    self.messages.append((match.group(1), match.group(2)))
            elif " WARNING " in line or " ERROR " in line:
                bench.HELPER_WARNINGS.append(line.rstrip())

    def since(self, start):
        with self.lock:
            return list(self.messages[start:])

    def count(self):
        with self.lock:
            return len(self.messages)


class Row:
    def __init__(self, setting, load, logged, elapsed, cpu, deferred):
        self.setting, self.load, self.elapsed, self.cpu, self.deferred = setting, load, elapsed, cpu, deferred
        self.messages = len(logged)
        self.sessions = len({session for session, dummy in logged})
        self.failed = sum(1 for dummy, code in logged if not code.startswith("2"))

    @property
    def rate(self):
        return self.messages / self.elapsed if self.elapsed else 0.0

    @property
    def cpu_ms(self):
        return 1000.0 * self.cpu / max(1, self.messages)


def relay_cpu(pid):
    """Seconds the helper's threads ran (schedstat: nanoseconds, finer than /proc/PID/stat's clock ticks)."""
    total = 0
    for task in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, task)) as handle:
                total += int(handle.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e9


def wait_delivered(config_dir, log, start, count, timeout):
    """Until ``count`` messages are in the relay's log after ``start`` and the queue is empty."""
    done = instance.wait_for(lambda: log.count() - start >= count and instance.queued(config_dir) == 0, timeout)
    if not done:
        raise SystemExit("not delivered within %d s: %d logged, %d queued (see %s.log)"
                         % (timeout, log.count() - start, instance.queued(config_dir), config_dir))


def burst(config_dir, log, helper, setting, count):
    for index in range(count):
        instance.submit(config_dir, bench.SENDER, bench.RECIPIENT, "%s %s %d" % (HOLD_MARK, setting, index))
    if not instance.wait_for(lambda: instance.queued(config_dir, ("hold",)) == count, 120):
        raise SystemExit("the burst did not reach the hold queue")
    start, cpu0, deferred0 = log.count(), relay_cpu(helper.pid), deferred_in_log(config_dir)
    started = time.perf_counter()
    subprocess.run(["postsuper", "-c", config_dir, "-H", "ALL"], check=True, capture_output=True)
    subprocess.run(["postqueue", "-c", config_dir, "-f"], check=True, capture_output=True)
    wait_delivered(config_dir, log, start, count, 600)
    elapsed = time.perf_counter() - started
    return Row(setting, "burst", log.since(start), elapsed, relay_cpu(helper.pid) - cpu0,
               deferred_in_log(config_dir) - deferred0)


def trickle(config_dir, log, helper, setting, count, gap):
    start, cpu0, busy, deferred0 = log.count(), relay_cpu(helper.pid), 0.0, deferred_in_log(config_dir)
    for index in range(count):
        time.sleep(gap)
        started = time.perf_counter()
        instance.submit(config_dir, bench.SENDER, bench.RECIPIENT, "trickle %s %d" % (setting, index))
        wait_delivered(config_dir, log, start, index + 1, 120)
        busy += time.perf_counter() - started
    return Row(setting, "trickle (gap %.1f s)" % gap, log.since(start), busy, relay_cpu(helper.pid) - cpu0,
               deferred_in_log(config_dir) - deferred0)


def deferred_in_log(config_dir):
    """Deliveries the instance logged as deferred or bounced so far (its maillog_file)."""
    try:
        with open(config_dir + ".log", encoding="utf-8", errors="replace") as handle:
            return sum(1 for line in handle if "status=deferred" in line or "status=bounced" in line)
    except OSError:
        return 0


def configure(config_dir, port, root, cache):
    result = instance.apply_role(
        config_dir, "[%s]:%d" % (bench.HOST, port),
        [{"sender": bench.SENDER, "username": RELAY_USER, "password": RELAY_SECRET}],
        postfix_relay_connection_cache=cache,
        postfix_relay_extra_settings={"header_checks": "regexp:%s/hold_checks" % root})
    if result.returncode != 0:
        raise SystemExit("the role failed:\n" + result.stdout[-3000:] + result.stderr[-2000:])
    return instance.postconf(config_dir, "smtp_connection_cache_destinations")


def report(rows, settings_seen, args):
    print()
    print("%d-message burst, %d-message trickle (gap %.1f s), one sender; relay CPU = time on a CPU of the "
          "helper's threads; trickle wall s = submit-to-delivered times added up, gaps left out" % (args.messages, args.trickle, args.gap))
    for setting, value in settings_seen:
        print("%s: smtp_connection_cache_destinations = %s" % (setting, value or "(empty)"))
    print("| setting | load | messages | wall s | msg/s | rate vs cache off | relay sessions | msgs/session "
          "| relay CPU ms/msg | CPU vs cache off | not 2xx | deferred/bounced |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    base = {row.load: row for row in rows if row.setting == "cache off"}
    for row in rows:
        ref = base.get(row.load, row)
        print("| %s | %s | %d | %.2f | %.1f | %.2fx | %d | %.1f | %.2f | %.2fx | %d | %d |" % (
            row.setting, row.load, row.messages, row.elapsed, row.rate, row.rate / ref.rate if ref.rate else 0,
            row.sessions, row.messages / max(1, row.sessions), row.cpu_ms,
            row.cpu_ms / ref.cpu_ms, row.failed, row.deferred))
    print("load average: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    if bench.HELPER_WARNINGS:
        print("helper warnings (%d), first: %s" % (len(bench.HELPER_WARNINGS), bench.HELPER_WARNINGS[0]))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=200, help="messages in the burst (default 200)")
    parser.add_argument("--trickle", type=int, default=20, help="messages in the trickle (default 20)")
    parser.add_argument("--gap", type=float, default=0.5,
                        help="seconds between one trickle message leaving the queue and the next (default 0.5; "
                             "Postfix keeps an idle cached connection for smtp_connection_cache_time_limit, 2 s)")
    args = parser.parse_args()
    if os.geteuid() != 0 or instance.POSTFIX is None:
        raise SystemExit("needs root and Debian's postfix package")

    stack = bench.Stack()
    started_services = stack.start(idp_only=False)
    folder = tempfile.mkdtemp(prefix="relay-burst-")
    root = instance.new_root()
    config_dir = os.path.join(root, "postfix")
    with open(os.path.join(root, "hold_checks"), "w", encoding="ascii") as handle:
        handle.write("/^Subject: %s / HOLD\n" % HOLD_MARK)
    log, helper, rows, seen = RelayLog(), None, [], []
    try:
        key_file, token_file = bench.seed_token(stack, folder)
        helper, port = bench.start_helper(stack, folder, key_file, token_file, drain=log.drain)
        for setting, cache in (("cache off", False), ("cache on", True)):
            seen.append((setting, configure(config_dir, port, root, cache)))
            rows.append(burst(config_dir, log, helper, setting, args.messages))
            rows.append(trickle(config_dir, log, helper, setting, args.trickle, args.gap))
    finally:
        bench.stop_processes(helper)
        instance.remove(root)
        if started_services:
            stack.stop()
        shutil.rmtree(folder, ignore_errors=True)
    report(rows, seen, args)


if __name__ == "__main__":
    main()
