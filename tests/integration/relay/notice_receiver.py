# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real receivers of notices for tests: an HTTPS webhook server and a command that writes its environment."""
from __future__ import annotations

import json
import os
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookReceiver:
    """An HTTPS server on 127.0.0.1 with the stack's certificate; keeps every POST (headers, JSON body)."""

    def __init__(self, cert_file, key_file, path="/endpoint"):
        self.path = path
        self.requests = []
        self.answers = []  # status codes to give first (then 200)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status = receiver.answers.pop(0) if receiver.answers else 200
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "raw": body,
                                          "status": status})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = "https://127.0.0.1:%d%s" % (self.server.server_address[1], path)

    @property
    def delivered(self):
        """The notices answered with 2xx, as parsed JSON."""
        return [json.loads(r["raw"]) for r in self.requests if 200 <= r["status"] < 300]

    def wait(self, count, timeout=30):
        deadline = time.monotonic() + timeout
        while len(self.delivered) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.delivered

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class CommandRecorder:
    """A real shell script as the notice command: each run writes its whole environment to a new file."""

    def __init__(self, folder, exit_code=0):
        self.folder = str(folder)
        os.makedirs(self.folder, exist_ok=True)
        self.script = os.path.join(self.folder, "notice.sh")
        with open(self.script, "w") as handle:
            handle.write('#!/bin/sh\nout=$(mktemp "%s/run.XXXXXX")\nenv > "$out"\nexit %d\n' % (self.folder, exit_code))
        os.chmod(self.script, 0o755)

    @property
    def runs(self):
        """One dict of environment variables per run, oldest first."""
        names = [n for n in os.listdir(self.folder) if n.startswith("run.")]
        names.sort(key=lambda n: os.stat(os.path.join(self.folder, n)).st_mtime_ns)
        runs = []
        for name in names:
            with open(os.path.join(self.folder, name)) as handle:
                text = handle.read()
            runs.append(dict(line.split("=", 1) for line in text.splitlines() if "=" in line))
        return runs

    def wait(self, count, timeout=30):
        deadline = time.monotonic() + timeout
        while len(self.runs) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.runs
