# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Showing a device code sign-in on the controller.

The prompt is printed at once with ``Display.display`` (stdout of
ansible-playbook, and AWX / Automation Platform job output), and again as a
warning, which callbacks that hide ordinary output (for example ``dense`` or
``minimal`` with little verbosity) still show. It never contains the device code.
"""

from __future__ import annotations

import time
from typing import Any, Dict, Optional

from ansible.utils.display import Display

display = Display()

# Say "still waiting" at most this often.
WAITING_EVERY = 60


class DevicePrompt:

    def __init__(self, task_name: str, host: Optional[str], path: Optional[str]) -> None:
        self.task_name = task_name
        self.host = host or "the managed host"
        self.path = path
        self._last_waiting = time.monotonic()

    def text(self, authorization: Dict[str, Any]) -> str:
        lines = [
            "Sign-in needed for the mail token %s on %s (task: %s)." % (self.path, self.host, self.task_name),
            "  Open:       %s" % authorization.get("verification_uri"),
            "  Enter code: %s" % authorization.get("user_code"),
        ]
        if authorization.get("verification_uri_complete"):
            lines.append("  Or open:    %s" % authorization["verification_uri_complete"])
        lines.append("  The code expires in %d s; waiting up to %d s for the sign-in." % (
            int(authorization.get("expires_in") or 0), int(authorization.get("timeout") or 0)))
        if authorization.get("message"):
            lines.append("  Provider: %s" % authorization["message"])
        return "\n".join(lines)

    def show(self, authorization: Dict[str, Any]) -> None:
        text = self.text(authorization)
        display.display(text, color="bright yellow")
        display.warning(text)

    def waiting(self, authorization: Dict[str, Any]) -> None:
        if time.monotonic() - self._last_waiting < WAITING_EVERY:
            return
        self._last_waiting = time.monotonic()
        display.display("Still waiting for the sign-in with code %s on %s (%d s until the code expires)." % (
            authorization.get("user_code"), self.host, int(authorization.get("expires_in") or 0)))

    def finished(self, result: Dict[str, Any]) -> None:
        if result.get("failed"):
            display.display("Device sign-in for %s on %s ended: %s" % (self.path, self.host, result.get("msg")))
        else:
            display.display("Device sign-in for %s on %s completed; the token is saved there." % (self.path, self.host))
