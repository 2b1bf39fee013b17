# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The head of the one-play playbooks the role tests and benchmarks write: localhost, no facts, this Python."""

from __future__ import annotations

import sys

_HEAD = """
- name: %s
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: %s
"""


def local_play(name: str, rest: str) -> str:
    """A play named ``name`` on localhost run by this Python; ``rest`` follows the interpreter line (more
    ``vars`` at their indent, then ``tasks:``/``handlers:``), already formatted."""
    return _HEAD % (name, sys.executable) + rest.lstrip("\n")
