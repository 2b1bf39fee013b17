# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the relay benchmarks share: start the helper from a config file and wait for its port; read a reply."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time

RELAY_MODULE = "ansible_collections.xoauth2.mail.plugins.module_utils._relay"


def _discard(stream):
    stream.read()


def launch_relay(config, path, collections, serve_args=(), profile_to=None, what="the relay", drain=_discard):
    """Write ``config`` to ``path``, start ``serve`` with the code under ``collections``: (process, port).

    Once it listens, ``drain(stderr)`` reads the rest of its log in a thread (the pipe must not fill up)."""
    with open(path, "w") as handle:
        json.dump(config, handle)
    command = ["-m", RELAY_MODULE, "-c", path, "serve"] + list(serve_args)
    if profile_to:
        command = ["-m", "cProfile", "-o", profile_to] + command
    proc = subprocess.Popen([sys.executable] + command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=dict(os.environ, PYTHONPATH=collections))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        match = re.search(rb" listening address=[^ ]*:(\d+)", line)
        if match:
            threading.Thread(target=drain, args=(proc.stderr,), daemon=True).start()
            return proc, int(match.group(1))
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit("%s did not start" % what)


def stop_process(proc, timeout=30):
    """SIGTERM, then SIGKILL if it has not ended within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()


def expect(reader, code):
    """Read one (multi-line) SMTP reply from a binary file object; it must have ``code``."""
    while True:
        line = reader.readline()
        if not line:
            raise RuntimeError("connection closed, expected %d" % code)
        if line[3:4] != b"-":
            if int(line[:3]) != code:
                raise RuntimeError("expected %d, got %r" % (code, line))
            return
