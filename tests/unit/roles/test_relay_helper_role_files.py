# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The relay_helper role: required variables fail at validation, no programs hidden in YAML strings."""
from __future__ import annotations

import glob
import os
import subprocess
import sys

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
ROLE = os.path.join(REPO, "roles", "relay_helper")


def _load(relative):
    with open(os.path.join(ROLE, relative), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


SPEC = _load("meta/argument_specs.yml")["argument_specs"]["main"]["options"]


def test_a_required_variable_has_no_default():
    # ansible-core counts a role default as given, so a default would hide a missing required variable
    defaults = _load("defaults/main.yml")
    required = [name for name, option in SPEC.items() if option.get("required")]
    assert required and [name for name in required if name in defaults] == []


def test_no_python_program_lives_in_a_yaml_string():
    # (every task file: tests/unit/roles/test_relay_helper_make_key.py)
    texts = {}
    for path in glob.glob(os.path.join(ROLE, "vars", "*.yml")) + [os.path.join(ROLE, "tasks", "config.yml")]:
        with open(path, encoding="utf-8") as handle:
            texts[os.path.relpath(path, ROLE)] = handle.read()
    assert [name for name, text in texts.items() if "import " in text or "sys.argv" in text] == []


def test_unused_internal_variables_are_gone():
    assert "relay_helper__token_options" not in _load("vars/main.yml")


def test_the_current_configuration_is_parsed_once():
    with open(os.path.join(ROLE, "tasks", "config.yml"), encoding="utf-8") as handle:
        assert handle.read().count("from_json") == 1


def test_leaving_out_relay_helper_accounts_fails_at_validation_naming_it(tmp_path):
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- hosts: localhost\n"
        "  gather_facts: false\n"
        "  roles:\n"
        "    - role: xoauth2.mail.relay_helper\n")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp_path),
               ANSIBLE_HOME=str(tmp_path / "home"))
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                           "-c", "local", str(playbook)], capture_output=True, stdin=subprocess.DEVNULL, text=True, env=env, cwd=str(tmp_path),
                          timeout=300, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Validating arguments against arg spec" in out and "relay_helper_accounts" in out, out[-3000:]
    assert "missing required arguments: relay_helper_accounts" in out, out[-3000:]
