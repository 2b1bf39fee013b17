# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The shared defaults are declared once (_options.OPTION_DEFAULTS); the documentation says the same."""
from __future__ import annotations

import dataclasses

import yaml

from ansible_collections.xoauth2.mail.plugins.doc_fragments.token import ModuleDocFragment
from ansible_collections.xoauth2.mail.plugins.module_utils import _options
from ansible_collections.xoauth2.mail.plugins.module_utils._settings import TokenSettings


def documented():
    return yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]


def test_the_doc_fragment_documents_every_shared_default_as_declared():
    options = documented()
    for name, value in _options.OPTION_DEFAULTS.items():
        assert options[name].get("default") == value, name


def test_every_default_in_the_doc_fragment_is_a_declared_one():
    options = documented()
    with_default = {name for name, doc in options.items() if "default" in doc}
    assert with_default == set(_options.OPTION_DEFAULTS)


def test_the_argument_spec_takes_its_defaults_from_the_one_source():
    for name, value in _options.OPTION_DEFAULTS.items():
        assert _options.TOKEN_ARGUMENT_SPEC[name]["default"] == value, name


def test_options_left_unset_get_the_declared_defaults():
    settings = _options.settings_from_options(lambda name: None)
    assert (settings.validate_certs, settings.timeout, settings.retries) == tuple(
        _options.OPTION_DEFAULTS[name] for name in ("validate_certs", "timeout", "retries"))
    assert _options.min_validity_from_options(lambda name: None) == _options.OPTION_DEFAULTS["min_validity"]


def test_token_settings_fall_back_to_the_same_defaults():
    fields = {field.name: field.default for field in dataclasses.fields(TokenSettings)}
    for name in ("validate_certs", "timeout", "retries"):
        assert fields[name] == _options.OPTION_DEFAULTS[name], name


def test_a_module_spec_is_the_shared_one_less_what_it_drops_plus_its_own():
    spec = _options.token_argument_spec(without=("flow",), host={"type": "str", "required": True})
    assert "flow" not in spec and spec["host"] == {"type": "str", "required": True}
    assert spec["timeout"] == _options.TOKEN_ARGUMENT_SPEC["timeout"]
    spec["timeout"]["default"] = 1  # a module's copy never changes the shared declaration
    assert _options.TOKEN_ARGUMENT_SPEC["timeout"]["default"] == _options.OPTION_DEFAULTS["timeout"]
