# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""xoauth2.mail.postconf in-process against a fake Postfix, from the cases in postconf_cases.yaml.

Each case names every command the module may run, in order, with what it answers:
``run_command`` for postconf (exit code, stdout, stderr) and ``terminal`` for postfix
(exit code, output). A command that is not the next one expected, or one left
unrun, fails the case, so the cases pin the command lines. ``writes`` stands for
what postconf would write, so the restore of the real files can be checked.
"""
from __future__ import annotations

import json
import os

import pytest
import yaml
from ansible.module_utils import basic

from module_args import patch_module_args  # tests/unit/helpers: every ansible-core of the range

from ansible_collections.xoauth2.mail.plugins.modules import postconf

with open(os.path.join(os.path.dirname(__file__), "postconf_cases.yaml"), encoding="utf-8") as _handle:
    CASES = yaml.safe_load(_handle)["test_cases"]

DEFAULT_FILES = {"main.cf": "# main.cf\n", "master.cf": "# master.cf\n"}


def _fill(value, config_dir):
    """{dir} in a case stands for the case's configuration folder."""
    if isinstance(value, str):
        return value.replace("{dir}", config_dir)
    if isinstance(value, list):
        return [_fill(item, config_dir) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, config_dir) for key, item in value.items()}
    return value


class FakePostfix:
    """Answers the expected commands in order and records what ran."""

    def __init__(self, case, config_dir):
        self.config_dir = config_dir
        self.expected = {kind: list(_fill(case.get("mocks", {}).get(kind, []), config_dir))
                         for kind in ("run_command", "terminal")}
        self.missing = set(case.get("missing_binaries", []))

    def _next(self, kind, argv):
        assert self.expected[kind], "unexpected %s: %r" % (kind, argv)
        call = self.expected[kind].pop(0)
        assert list(argv) == call["command"], "%s: expected %r, got %r" % (kind, call["command"], list(argv))
        for name, text in call.get("writes", {}).items():
            with open(os.path.join(self.config_dir, name), "w", encoding="utf-8") as handle:
                handle.write(text)
        return call

    def run_command(self, args):
        call = self._next("run_command", args)
        return call.get("rc", 0), call.get("out", ""), call.get("err", "")

    def run_on_terminal(self, argv):
        call = self._next("terminal", argv)
        return call.get("rc", 0), call.get("out", "")

    def get_bin_path(self, name):
        return None if name in self.missing else "/testbin/%s" % name


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_postconf_case(case, tmp_path, monkeypatch, capsys):
    config_dir = str(tmp_path)
    for name, text in dict(DEFAULT_FILES, **case.get("files", {})).items():
        if text is not None:
            (tmp_path / name).write_text(text)
    fake = FakePostfix(case, config_dir)
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda _module, args, **_kw: fake.run_command(args))
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda _module, name, **_kw: fake.get_bin_path(name))
    monkeypatch.setattr(postconf, "run_on_terminal", fake.run_on_terminal)
    args = dict(case.get("input", {}), config_dir=config_dir, _ansible_check_mode=case.get("check_mode", False),
                _ansible_diff=case.get("diff", False))

    with patch_module_args(args), pytest.raises(SystemExit):
        postconf.main()
    captured = capsys.readouterr()
    result = json.loads(captured.out)

    expected = _fill(case["output"], config_dir)
    for key, value in expected.items():
        if key in ("msg_contains", "warnings_contain"):
            continue
        assert result.get(key) == value, "%s: %r != %r" % (key, result.get(key), value)
    for fragment in expected.get("msg_contains", []):
        assert fragment in result["msg"], result["msg"]
    # in a process that imported Ansible's controller code, warnings go to the display (stderr)
    warnings = " ".join(str(item) for item in result.get("warnings", [])) + captured.err
    for fragment in expected.get("warnings_contain", []):
        assert fragment in warnings, warnings
    assert fake.expected == {"run_command": [], "terminal": []}, "commands that did not run"
    for name, text in case.get("files_after", {}).items():
        assert (tmp_path / name).read_text() == text, name
