# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run our modules the way Ansible runs them on a host: a process with JSON arguments.

A module of its own name (not conftest), so that tests in other folders with
their own conftest.py can import it without a name clash.
"""
from __future__ import annotations

import json
import os
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
MODULES = os.path.join(REPO, "plugins", "modules")
COLLECTIONS = os.path.join(REPO, ".build", "collections")


class ModuleRun(dict):
    """A module result (the parsed JSON), plus the raw output for leak checks."""

    raw = ""


def module_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([COLLECTIONS, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def module_command(name, args, tmp_path, check=False, diff=True):
    payload = {"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=check, _ansible_diff=diff)}
    args_file = tmp_path / ("args-%s.json" % os.urandom(4).hex())
    args_file.write_text(json.dumps(payload))
    return [sys.executable, os.path.join(MODULES, name + ".py"), str(args_file)]


def parse_run(stdout, stderr):
    text = stdout.decode()
    try:
        result = ModuleRun(json.loads(text[text.index("{"):]))
    except ValueError:
        raise AssertionError("module printed no JSON: %r %r" % (text[-2000:], stderr.decode()[-2000:]))
    result.raw = text + stderr.decode()
    return result
