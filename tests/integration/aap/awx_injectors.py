# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What AWX / Automation Platform does with a custom credential type, for the tests.

Written from the controller's documented behaviour (and its source, read, not copied):

* validation: inputs are ``fields`` (``id`` a variable name, ``label``, ``type``
  string or boolean, ``secret``/``multiline``/``choices``/``format`` for strings
  only) and ``required``; injectors are ``env``, ``extra_vars`` and ``file``
  (``template`` or ``template.<name>``); env names starting ``ANSIBLE_`` are
  refused; every injector template must render in a sandbox with StrictUndefined
  when every input holds a value.
* injection for a job: each template is rendered in Jinja2's immutable sandbox
  with the inputs that have a value (an input left empty is undefined, which
  renders as an empty string); files are written into the job's private folder
  and their paths are ``tower.filename`` (or ``tower.filename.<name>``); the extra
  vars are written to a YAML file, every value tagged ``!unsafe``, and passed as
  ``-e @file``; env vars are set on ansible-playbook.
"""
from __future__ import annotations

import os
import re
import stat
import tempfile

import yaml
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

NAME = re.compile(r"^[a-zA-Z_]+[a-zA-Z0-9_]*$")
FILE_LABEL = re.compile(r"^template(\.[a-zA-Z_]+[a-zA-Z0-9_]*)?$")
FIELD_KEYS = {"id", "label", "type", "format", "choices", "help_text", "multiline", "secret", "ask_at_runtime",
              "default"}
STRING_ONLY = ("choices", "multiline", "format", "secret")


class Namespace:
    """``tower`` (and ``tower.filename``) in the templates' namespace."""


def validate(credential_type: dict) -> list:
    """The controller's checks on a custom credential type; returns the problems found."""
    problems = []
    if credential_type.get("kind") not in ("cloud", "net"):
        problems.append("kind must be cloud or net for a custom type")
    inputs = credential_type.get("inputs") or {}
    problems += ["inputs has unknown key %s" % k for k in inputs if k not in ("fields", "required")]
    ids = []
    for field in inputs.get("fields", []):
        problems += _field_problems(field, ids)
        ids.append(field.get("id"))
    problems += ["required names unknown field %s" % r for r in inputs.get("required", []) if r not in ids]
    injectors = credential_type.get("injectors") or {}
    return problems + _injector_problems(injectors) + _render_problems(ids, injectors)


def _field_problems(field: dict, ids: list) -> list:
    problems = ["field %s: unknown key %s" % (field.get("id"), k) for k in field if k not in FIELD_KEYS]
    if not NAME.match(str(field.get("id", ""))) or field.get("id") == "tower" or not field.get("label"):
        problems.append("field %r: id must be a variable name (not tower) and label is required" % field)
    kind = field.get("type", "string")
    if kind not in ("string", "boolean"):
        problems.append("field %s: type must be string or boolean" % field.get("id"))
    if kind != "string":
        problems += ["field %s: %s is for strings only" % (field.get("id"), k) for k in STRING_ONLY if k in field]
    if field.get("format") not in (None, "ssh_private_key", "url"):
        problems.append("field %s: unknown format" % field.get("id"))
    if field.get("id") in ids:
        problems.append("field %s: duplicate id" % field.get("id"))
    return problems


def _injector_problems(injectors: dict) -> list:
    problems = ["injectors has unknown key %s" % k for k in injectors if k not in ("env", "extra_vars", "file")]
    problems += ["file label %s" % k for k in injectors.get("file", {}) if not FILE_LABEL.match(k)]
    for kind in ("env", "extra_vars"):
        problems += ["%s name %s" % (kind, k) for k in injectors.get(kind, {}) if not NAME.match(k)]
    problems += ["env %s may change Ansible's configuration" % k for k in injectors.get("env", {})
                 if k.startswith("ANSIBLE_")]
    return problems


def _render_problems(ids, injectors) -> list:
    namespace = {name: "EXAMPLE" for name in ids}
    namespace["tower"] = tower = Namespace()
    tower.filename = Namespace()
    for label in injectors.get("file", {}):
        if "." in label:
            setattr(tower.filename, label.split(".", 1)[1], "EXAMPLE_FILENAME")
        else:
            tower.filename = "EXAMPLE_FILENAME"
    strict = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    problems = []
    for kind, templates in injectors.items():
        for key, template in templates.items():
            try:
                strict.from_string(template).render(namespace)
            except Exception as error:  # undefined field, syntax, sandbox
                problems.append("%s %s: %s" % (kind, key, error))
    return problems


class _Unsafe(str):
    pass


def _unsafe_representer(dumper, value):
    return dumper.represent_scalar("!unsafe", str(value))


class _UnsafeDumper(yaml.SafeDumper):
    pass


_UnsafeDumper.add_representer(_Unsafe, _unsafe_representer)


def inject(credential_type: dict, inputs: dict, private_data_dir: str):
    """Render the injectors for a job; returns (env, ansible-playbook args)."""
    injectors = credential_type.get("injectors") or {}
    namespace = {name: value for name, value in inputs.items() if isinstance(value, bool) or len(value)}
    namespace["tower"] = Namespace()
    env_dir = os.path.join(private_data_dir, "env")
    os.makedirs(env_dir, exist_ok=True)
    sandbox = ImmutableSandboxedEnvironment()
    for label, template in injectors.get("file", {}).items():
        _write_file(namespace["tower"], label, sandbox.from_string(template).render(**namespace), env_dir)
    env = {name: sandbox.from_string(template).render(**namespace)
           for name, template in injectors.get("env", {}).items()}
    extra_vars = {name: _Unsafe(sandbox.from_string(template).render(**namespace))
                  for name, template in injectors.get("extra_vars", {}).items()}
    if not extra_vars:
        return env, []
    handle, path = tempfile.mkstemp(dir=env_dir)
    with os.fdopen(handle, "w") as out:
        out.write(yaml.dump(extra_vars, Dumper=_UnsafeDumper, default_flow_style=False))
    os.chmod(path, stat.S_IRUSR | stat.S_IRGRP)
    return env, ["-e", "@%s" % path]


def _write_file(tower: Namespace, label: str, content: str, env_dir: str) -> None:
    """A file injector: the file in the job's folder, its path as tower.filename[.<name>]."""
    handle, path = tempfile.mkstemp(dir=env_dir)
    with os.fdopen(handle, "w") as out:
        out.write(content)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IWGRP)
    if "." not in label:
        tower.filename = path
        return
    if not isinstance(getattr(tower, "filename", None), Namespace):
        tower.filename = Namespace()
    setattr(tower.filename, label.split(".", 1)[1], path)


def load_types(path: str) -> dict:
    with open(path) as handle:
        return {item["name"]: item for item in yaml.safe_load(handle)["credential_types"]}
