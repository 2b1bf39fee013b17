# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The shared relay_helper venv of the role tests (tests/stack/relay_venv.py); no stack needed, pip replaced."""
from __future__ import annotations

import os
import stat
import sys

import relay_venv


def _fake_build(calls):
    def build(venv, python, packages, constraints):
        calls.append(venv)
        os.makedirs(os.path.join(venv, "bin"))
    return build


def test_role_packages_are_the_role_defaults():
    assert any(p.startswith("msal") for p in relay_venv.role_packages())
    assert any(p.startswith("cryptography") for p in relay_venv.role_packages())


def test_built_once_then_shared_and_rebuilt_when_the_constraints_change(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(relay_venv, "_build", _fake_build(calls))
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("msal==1.39.0\n")
    kwargs = dict(python=sys.executable, packages=["msal>=1.28"], constraints=str(constraints),
                  root=str(tmp_path / "cache"))
    first = relay_venv.prepared_venv(**kwargs)
    assert relay_venv.prepared_venv(**kwargs) == first and calls == [first]
    assert stat.S_IMODE(os.stat(os.path.dirname(first)).st_mode) == 0o755  # the service user reaches it
    constraints.write_text("msal==1.40.0\n")
    second = relay_venv.prepared_venv(**kwargs)
    assert second != first and calls == [first, second]


def test_an_interrupted_build_is_made_again(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(relay_venv, "_build", _fake_build(calls))
    kwargs = dict(python=sys.executable, packages=["msal>=1.28"], constraints=relay_venv.CONSTRAINTS,
                  root=str(tmp_path / "cache"))
    venv = relay_venv.prepared_venv(**kwargs)
    os.unlink(os.path.join(os.path.dirname(venv), relay_venv.COMPLETE))  # as if the build had stopped midway
    assert relay_venv.prepared_venv(**kwargs) == venv and calls == [venv, venv]
