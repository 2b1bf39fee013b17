#!/usr/bin/env python
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The relay's own user-space instructions per session and per message (issue 8), by callgrind.

CPU time on a shared 2-core machine moves by 10 to 30 % from one round to the next with
whatever else runs, so relay_cpu.py cannot tell a 3 % change from noise. The number of
instructions the relay executes for the same work hardly moves: this runs the relay under
valgrind's callgrind in front of the fake upstream of relay_cpu.py, does the same client
work (``--mode``: session, message, reused; see relay_cpu.py), and reads the instruction
count (Ir) of just that work (counters zeroed after a warm-up, dumped after it). Kernel
work (system calls) is not counted: relay_cpu.py gives it. The floor (smtp_floor.py, a
do-nothing asyncio SMTP responder) is measured the same way.

With ``--compare-with CHECKOUT`` another checkout's relay is measured the same way and the
table prints ratios against it. Needs valgrind (callgrind_control). About 15 s per relay.

    .venv/bin/python benchmarks/relay_instructions.py [--compare-with DIR] [--count 200]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import relay_cpu  # noqa: E402
import relay_memory  # noqa: E402
from relay_process import RELAY_MODULE, stop_process  # noqa: E402


def start_under_callgrind(folder, upstream, collections, name):
    """The relay of ``collections`` under callgrind: (process, port, dump prefix)."""
    key_file, token_file = relay_memory.write_token(folder)
    config = {"listen": "127.0.0.1:0", "log_level": "info", "pool": {"size": 4},
              "accounts": [{"name": "alice", "token_file": token_file, "key_file": key_file, "local_secret": "pw",
                            "upstream": {"host": "127.0.0.1", "port": upstream.sink.port,
                                         "ca_file": upstream.cert}}]}
    path = os.path.join(folder, name + ".json")
    with open(path, "w") as handle:
        json.dump(config, handle)
    prefix = os.path.join(folder, name + ".callgrind")
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=%s.%%p" % prefix,
                             sys.executable, "-m", RELAY_MODULE, "-c", path, "serve"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=dict(os.environ, PYTHONPATH=collections, PYTHONHASHSEED="0"))
    while True:  # under valgrind the start takes seconds; a relay that fails ends its stderr
        line = proc.stderr.readline()
        match = re.search(rb" listening address=[^ ]*:(\d+)", line)
        if match:
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return proc, int(match.group(1)), prefix
        if not line:
            proc.kill()
            raise SystemExit("the relay from %s did not start under valgrind" % collections)


def start_floor_under_callgrind(folder):
    """smtp_floor.py under callgrind: (process, port, dump prefix)."""
    prefix = os.path.join(folder, "floor.callgrind")
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=%s.%%p" % prefix,
                             sys.executable, os.path.join(HERE, "smtp_floor.py")],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = proc.stdout.readline().split()
    if len(line) != 2 or line[0] != b"listening":
        proc.kill()
        raise SystemExit("smtp_floor.py did not start under valgrind")
    return proc, int(line[1]), prefix


def callgrind(command, pid, *args):
    subprocess.run(["callgrind_control", command] + list(args) + [str(pid)], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, check=True, timeout=120)


def dumped_instructions(prefix, pid, label):
    """Ir of the dump labelled ``label`` (written asynchronously: wait until its last line is there)."""
    for dummy in range(600):
        for name in glob.glob("%s.%d.*" % (prefix, pid)):
            with open(name) as handle:
                text = handle.read()
            match = re.search(r"^summary: (\d+)", text, re.MULTILINE)
            if "\ndesc: Trigger: dump %s\n" % label in text and match and "\ntotals: " in text:
                os.unlink(name)
                return int(match.group(1))
        threading.Event().wait(0.1)
    raise SystemExit("no callgrind dump for %s" % label)


def measure(started, modes, count):
    proc, port, prefix = started
    result = {}
    try:
        for mode in modes:
            relay_cpu.run_mode(mode, port, 20, True)  # warm-up: pool connection, caches
        for mode in modes:
            callgrind("-z", proc.pid)
            relay_cpu.run_mode(mode, port, count, True)
            callgrind("-d", proc.pid, mode)
            result[mode] = dumped_instructions(prefix, proc.pid, mode) / float(count)
    finally:
        stop_process(proc, 60)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("all",) + relay_cpu.MODES, default="all")
    parser.add_argument("--count", type=int, default=200, help="sessions (or messages, reused) per relay and mode")
    parser.add_argument("--compare-with", metavar="CHECKOUT", help="another checkout of this repository")
    args = parser.parse_args()
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        raise SystemExit("needs valgrind (apt-get install valgrind)")
    modes = relay_cpu.MODES if args.mode == "all" else (args.mode,)
    folder = tempfile.mkdtemp(prefix="relay-instructions-")
    relays = [(relay_cpu.FLOOR, None)]
    if args.compare_with:
        other = os.path.abspath(args.compare_with)
        relays.append(("baseline (%s)" % os.path.basename(other), os.path.join(other, ".build", "collections")))
    relays.append(("this checkout", relay_memory.COLLECTIONS))
    try:
        upstream = relay_memory.Upstream(folder)
        figures = []
        for index, (name, collections) in enumerate(relays):
            started = start_under_callgrind(folder, upstream, collections, "r%d" % index) if collections \
                else start_floor_under_callgrind(folder)
            figures.append((name, measure(started, modes, args.count)))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    base_name, base = figures[1]
    floor = figures[0][1]
    print()
    print("relay user-space instructions (callgrind Ir), fake upstream, pipelining client, %d per mode" % args.count)
    print("| server | mode | per | instructions | vs %s | vs floor |" % base_name)
    print("|---|---|---|---|---|---|")
    for mode in modes:
        for name, result in figures:
            versus_base = "%.3fx" % (result[mode] / base[mode]) if name != relay_cpu.FLOOR else "-"
            row = (name, mode, relay_cpu.UNITS[mode], result[mode], versus_base, result[mode] / floor[mode])
            print("| %s | %s | %s | %.0f | %s | %.2fx |" % row)


if __name__ == "__main__":
    main()
