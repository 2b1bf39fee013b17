# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The module base (_ansible_module.OAuthMailModule) and the line between it and the core.

The core (plugins/module_utils) never imports Ansible: only _ansible_module.py does, and only modules
import it. Both token modules are built on the base, and oauth_mail_token exits in one place.
"""
from __future__ import annotations

import ast
import glob
import json
import os

import pytest
from module_args import patch_module_args  # tests/unit/helpers: every ansible-core of the range

from ansible_collections.xoauth2.mail.plugins.module_utils._ansible_module import OAuthMailModule
from ansible_collections.xoauth2.mail.plugins.module_utils._dependencies import MissingDependency
from ansible_collections.xoauth2.mail.plugins.module_utils._errors import ConfigurationError, StorageError
from ansible_collections.xoauth2.mail.plugins.module_utils._options import TOKEN_ARGUMENT_SPEC

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
MODULE_UTILS = os.path.join(REPO, "plugins", "module_utils")
BASE = "_ansible_module"


def _tree(path):
    with open(path, encoding="utf-8") as handle:
        return ast.parse(handle.read())


def _imported(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield ("." * node.level) + (node.module or "")


def _calls(tree, name):
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == name]


def test_the_core_never_imports_ansible_nor_the_module_base():
    offenders = {}
    for path in glob.glob(os.path.join(MODULE_UTILS, "**", "*.py"), recursive=True):
        if os.path.basename(path) == BASE + ".py":
            continue
        bad = [name for name in _imported(_tree(path))
               if name == "ansible" or name.startswith("ansible.") or name.endswith(BASE)]
        if bad:
            offenders[os.path.relpath(path, REPO)] = bad
    assert offenders == {}


@pytest.mark.parametrize("module", ["oauth_mail_token", "oauth_mail_check"])
def test_the_token_modules_are_built_on_the_base(module):
    tree = _tree(os.path.join(REPO, "plugins", "modules", module + ".py"))
    assert _calls(tree, "AnsibleModule") == [] and len(_calls(tree, "OAuthMailModule")) == 1
    assert not [name for name in _imported(tree) if name.startswith("ansible.")]


def test_oauth_mail_token_exits_in_one_place():
    tree = _tree(os.path.join(REPO, "plugins", "modules", "oauth_mail_token.py"))
    assert len(_calls(tree, "exit_json")) == 1
    assert _calls(tree, "fail_json") == []  # failures are core errors, reported by the base


def test_generate_argspec_is_the_shared_spec_less_some_plus_own():
    spec = OAuthMailModule.generate_argspec(without=("flow",), host=dict(type="str", required=True))
    assert set(spec) == (set(TOKEN_ARGUMENT_SPEC) - {"flow"}) | {"host"}
    spec["timeout"]["default"] = -1  # a copy: the shared spec is not changed through it
    assert TOKEN_ARGUMENT_SPEC["timeout"]["default"] != -1


def module_with(args):
    spec = dict(path=dict(type="path", required=True), mode=dict(type="raw"))
    with patch_module_args(dict(args, path=args.get("path", "/tmp/x.token"))):
        return OAuthMailModule(argument_spec=spec, add_file_common_args=True)


@pytest.mark.parametrize("mode, expected", [
    (None, 0o600), ("0640", 0o640), (0o640, 0o640), ("640", 0o640), ("u=rw,g=r", 0o640), ("g+r", 0o640),
    ("u=rwx,go=", 0o700), ("a-w", 0o400),
])
def test_creation_mode_reads_octal_and_symbolic_modes(mode, expected):
    assert module_with(dict(mode=mode)).creation_mode() == expected


@pytest.mark.parametrize("mode", ["rw-r", "u=rwq", "99999", "010000", "u+s,x"])
def test_a_wrong_mode_is_a_configuration_error_naming_it(mode):
    with pytest.raises(ConfigurationError) as caught:
        module_with(dict(mode=mode)).creation_mode()
    assert caught.value.option == "mode" and repr(mode) in str(caught.value)


def test_an_unknown_owner_is_a_configuration_error_naming_it():
    with pytest.raises(ConfigurationError) as caught:
        module_with(dict(owner="no-such-user-xoauth2")).owner_ids()
    assert caught.value.option == "owner"
    assert module_with(dict(owner="0", group="root")).owner_ids() == (0, 0)


@pytest.mark.parametrize("error, fields", [
    (StorageError("The token file is damaged."), {"error_category": "storage", "msg": "The token file is damaged."}),
    (ConfigurationError("client_id is missing.", option="client_id"),
     {"error_category": "configuration", "error_option": "client_id"}),
    (MissingDependency("msal", "msal >= 1.28", "needed for provider=microsoft"), {"error_category": "configuration"}),
])
def test_a_core_error_becomes_the_tasks_failure(error, fields, capsys):
    spec = dict(path=dict(type="path", required=True))
    with patch_module_args(dict(path="/tmp/x.token")):  # the result is written while the arguments are in place
        module = OAuthMailModule(argument_spec=spec)
        with pytest.raises(SystemExit), module.reporting_core_errors(path="/tmp/x.token"):
            raise error
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True and result["path"] == "/tmp/x.token"
    assert {name: result.get(name) for name in fields} == fields
    if isinstance(error, MissingDependency):
        assert "msal" in result["msg"] and "Traceback" not in result["msg"]
