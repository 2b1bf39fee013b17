# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from ansible_collections.xoauth2.mail.plugins.module_utils._terminal_command import run_on_terminal


def test_output_to_a_terminal_is_read_to_the_end():
    rc, text = run_on_terminal(["sh", "-c", "echo out; [ -t 2 ] && echo 'fatal: on a tty' >&2; exit 3"])
    assert rc == 3 and text == "out\nfatal: on a tty"


def test_many_lines_are_not_lost():
    rc, text = run_on_terminal(["sh", "-c", "i=0; while [ $i -lt 2000 ]; do echo line$i; i=$((i+1)); done"])
    assert rc == 0 and text.splitlines()[-1] == "line1999" and len(text.splitlines()) == 2000
