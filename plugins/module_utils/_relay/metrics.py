# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Counters per account and the Prometheus textfile (node_exporter textfile collector)."""

from __future__ import annotations

import os
import tempfile
import time
from collections import defaultdict
from typing import Callable, Dict, Optional

COUNTERS = (
    ("messages_relayed", "Messages accepted by the upstream server."),
    ("messages_deferred", "Messages answered with a temporary (4xx) failure."),
    ("messages_rejected", "Messages answered with a permanent (5xx) failure."),
    ("token_refreshes", "Successful token renewals by this process."),
    ("token_failures", "Failed token renewals by this process."),
    ("upstream_connections", "Authenticated upstream connections opened."),
)


class Metrics:
    def __init__(self) -> None:
        self.counters: Dict[str, Dict[str, int]] = {name: defaultdict(int) for name, dummy in COUNTERS}
        self.latency_sum: Dict[str, float] = defaultdict(float)
        self.latency_count: Dict[str, int] = defaultdict(int)
        self.expiry: Dict[str, Callable[[], Optional[float]]] = {}

    def inc(self, name: str, account: str, amount: int = 1) -> None:
        self.counters[name][account] += amount

    def upstream_latency(self, account: str, seconds: float) -> None:
        self.latency_sum[account] += seconds
        self.latency_count[account] += 1

    def render(self) -> str:
        lines = []
        for name, help_text in COUNTERS:
            metric = "xoauth2_relay_%s_total" % name
            lines += ["# HELP %s %s" % (metric, help_text), "# TYPE %s counter" % metric]
            for account, value in sorted(self.counters[name].items()):
                lines.append('%s{account="%s"} %d' % (metric, _label(account), value))
        metric = "xoauth2_relay_upstream_latency_seconds"
        lines += ["# HELP %s Time from end of data to the upstream's final reply." % metric,
                  "# TYPE %s summary" % metric]
        for account in sorted(self.latency_count):
            lines.append('%s_sum{account="%s"} %.6f' % (metric, _label(account), self.latency_sum[account]))
            lines.append('%s_count{account="%s"} %d' % (metric, _label(account), self.latency_count[account]))
        metric = "xoauth2_relay_token_seconds_to_expiry"
        lines += ["# HELP %s Seconds until the account's access token expires." % metric,
                  "# TYPE %s gauge" % metric]
        for account, getter in sorted(self.expiry.items()):
            seconds = getter()
            if seconds is not None:
                lines.append('%s{account="%s"} %d' % (metric, _label(account), seconds))
        lines.append("xoauth2_relay_metrics_written_timestamp_seconds %d" % int(time.time()))
        return "\n".join(lines) + "\n"

    def write(self, path: str) -> None:
        """Atomically, so the collector never reads half a file."""
        folder = os.path.dirname(path) or "."
        fd, temp = tempfile.mkstemp(prefix=".xoauth2-relay.", suffix=".prom.tmp", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(self.render())
            os.chmod(temp, 0o644)
            os.replace(temp, path)
        except BaseException:
            try:
                os.unlink(temp)
            except OSError:
                pass
            raise


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
