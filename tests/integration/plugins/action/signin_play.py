# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the sign-in tests (device code, browser) share: a play whose output is watched as it comes, and the
play that runs oauth_mail_token with given options."""
from __future__ import annotations

import subprocess
import threading
import time

from xoauth2_playbook import playbook_env

ALICE = "alice@example.test"

SIGN_IN_PLAY = """
- hosts: h0
  gather_facts: false
  tasks:
    - name: sign in
      xoauth2.mail.oauth_mail_token:
%s
      register: signed
    - ansible.builtin.debug:
        msg: "RESULT action={{ signed.action }} changed={{ signed.changed }} user={{ signed.username | default('') }}"
"""


def sign_in_play(options: dict) -> str:
    """A play of one oauth_mail_token task with these options, then a RESULT line."""
    return SIGN_IN_PLAY % "\n".join("        %s: %s" % (name, value) for name, value in options.items())


class WatchedPlay:
    """A running ansible-playbook whose output is read line by line; each new match of ``pattern`` (its first
    group) is kept in ``matches`` and handed to ``on_match`` while the play waits."""

    def __init__(self, argv, folder, pattern, on_match=None, stdin=subprocess.DEVNULL, env=None):
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=playbook_env(env), cwd=str(folder))
        self.pattern = pattern
        self.lines = []
        self.matches = []
        self.on_match = on_match
        self.errors = []
        self.elapsed = None
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)
            match = self.pattern.search(line)
            if match and match.group(1) not in self.matches:
                self.matches.append(match.group(1))
                if self.on_match is not None:
                    try:
                        self.on_match(match.group(1))
                    except Exception as exc:  # reported by wait()
                        self.errors.append(exc)

    def wait(self, timeout=180):
        self.proc.wait(timeout)
        self.reader.join(10)
        self.elapsed = time.monotonic() - self.started
        assert not self.errors, self.errors
        return self.proc.returncode, "".join(self.lines)


def assert_later_runs_are_silent(start_play):
    """After a sign-in: state present keeps the token and refreshed renews it, neither asking anybody.
    ``start_play(state)`` starts the play of that state."""
    for state, action in (("present", "none"), ("refreshed", "refreshed")):
        play = start_play(state)
        rc, out = play.wait()
        assert rc == 0, out
        assert play.matches == [] and "Sign-in needed" not in out
        assert "RESULT action=%s" % action in out
