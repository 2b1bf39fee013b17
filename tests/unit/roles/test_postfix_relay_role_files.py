# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The postfix_relay role's files agree with its argument spec and use one way to run postfix."""
from __future__ import annotations

import glob
import os

import pytest
import yaml

ROLE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "postfix_relay"))


def _load(relative):
    with open(os.path.join(ROLE, relative), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


SPEC = _load("meta/argument_specs.yml")["argument_specs"]["main"]["options"]
DEFAULTS = _load("defaults/main.yml")


def _tasks():
    """Every task of the role (blocks opened), with the file it is in."""
    for path in sorted(glob.glob(os.path.join(ROLE, "tasks", "*.yml")) + glob.glob(os.path.join(ROLE, "handlers", "*.yml"))):
        with open(path, encoding="utf-8") as handle:
            stack = list(yaml.safe_load(handle) or [])
        while stack:
            task = stack.pop()
            stack.extend(task.get("block", []) + task.get("rescue", []) + task.get("always", []))
            yield os.path.relpath(path, ROLE), task


def test_a_required_variable_has_no_default():
    # ansible-core counts a role default as given, so a default would hide a missing required variable
    required = [name for name, option in SPEC.items() if option.get("required")]
    assert [name for name in required if name in DEFAULTS] == []


@pytest.mark.parametrize("name", sorted(SPEC))
def test_documented_default_is_the_real_one(name):
    if SPEC[name].get("required"):
        return
    assert name in DEFAULTS, "%s is documented but has no default in defaults/main.yml" % name
    assert SPEC[name].get("default") == DEFAULTS[name]


def test_every_default_is_documented():
    assert sorted(set(DEFAULTS) - set(SPEC)) == []


def test_postfix_runs_through_the_postconf_module_not_script():
    # script(1) loses Postfix's last words when its input ends first, as under Ansible
    scripted = ["%s: %s" % (path, task.get("name")) for path, task in _tasks()
                if "script" in str(task.get("ansible.builtin.command", task.get("command", "")))]
    assert scripted == []


def test_the_role_does_not_flush_the_plays_handlers():
    # meta: flush_handlers would run every handler the caller notified, not only the role's
    flushing = ["%s: %s" % (path, task.get("name")) for path, task in _tasks()
                if task.get("ansible.builtin.meta", task.get("meta")) == "flush_handlers"]
    assert flushing == []
