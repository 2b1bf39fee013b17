# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a command with a pseudo-terminal as its output and read all it says.

Postfix's commands print fatal errors only to a terminal. script(1) would give
them one, but loses the last words when its own stdin ends first (as in CI).
"""

from __future__ import annotations

import os
import pty
import subprocess
from typing import List, Tuple


def run_on_terminal(argv: List[str]) -> Tuple[int, str]:
    """(exit code, everything written to stdout and stderr)."""
    primary, secondary = pty.openpty()
    chunks = []
    try:
        with open(os.devnull, "rb") as devnull:
            # run_command cannot hand the child a terminal, which is the point here.
            proc = subprocess.Popen(  # pylint: disable=ansible-bad-function
                argv, stdin=devnull, stdout=secondary, stderr=secondary, close_fds=True)
        os.close(secondary)
        secondary = -1
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # EIO: every writer of the terminal has gone
                break
            if not chunk:
                break
            chunks.append(chunk)
        rc = proc.wait()
    finally:
        os.close(primary)
        if secondary != -1:
            os.close(secondary)
    return rc, b"".join(chunks).decode("utf-8", "replace").replace("\r", "").strip()
