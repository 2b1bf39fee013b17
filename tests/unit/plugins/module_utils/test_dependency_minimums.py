# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Minimum versions: known-vulnerable pip releases are refused with the library and the minimum named."""
from __future__ import annotations

import os
import subprocess
import types

import pytest

from ansible_collections.xoauth2.mail.plugins.module_utils import _dependencies
from ansible_collections.xoauth2.mail.plugins.module_utils._dependencies import MissingDependency, require

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
SYSTEM_PYTHON = "/usr/bin/python3"


def old_release(monkeypatch, name, version):
    """``name`` imports as a module of ``version``; its distribution metadata stays the real one (pip's)."""
    module = types.ModuleType(name)
    module.__version__ = version
    monkeypatch.setitem(__import__("sys").modules, name, module)
    monkeypatch.setattr(_dependencies, "_loaded", {})
    return module


@pytest.mark.parametrize("name, version, minimum", [
    ("requests", "2.32.3", "2.32.4"),
    ("requests", "2.31.0", "2.32.4"),
    ("cryptography", "43.0.3", "44.0.1"),
    ("cryptography", "44.0.0", "44.0.1"),
])
def test_a_vulnerable_pip_release_is_refused(monkeypatch, name, version, minimum):
    old_release(monkeypatch, name, version)
    with pytest.raises(MissingDependency) as error:
        require(name)
    message = str(error.value)
    assert "%s %s" % (name, version) in message and minimum in message and "CVE-" in message
    assert error.value.requirement == "%s>=%s" % (name, minimum)


@pytest.mark.parametrize("name, version", [("requests", "2.32.4"), ("cryptography", "44.0.1"),
                                           ("cryptography", "50.0.2")])
def test_fixed_releases_pass(monkeypatch, name, version):
    module = old_release(monkeypatch, name, version)
    assert require(name) is module


def test_msal_too_old_for_oidc_names_the_minimum(monkeypatch):
    old_release(monkeypatch, "msal", "1.21.0")
    with pytest.raises(MissingDependency) as error:
        require("msal")
    assert "msal 1.21.0" in str(error.value) and "1.28 or newer" in str(error.value)


@pytest.mark.skipif(not os.path.exists(SYSTEM_PYTHON), reason="needs the OS Python")
def test_an_os_package_is_trusted_at_its_version():
    """Debian's python3-cryptography (38 here, fixes backported) has no pip INSTALLER record: accepted."""
    code = ("import sys, importlib.metadata as m\n"
            "try:\n    m.distribution('cryptography')\nexcept Exception:\n    sys.exit(77)\n"
            "from ansible_collections.xoauth2.mail.plugins.module_utils._dependencies import require, _installer\n"
            "mod = require('cryptography')\n"
            "print(mod.__version__, repr(_installer('cryptography')))\n")
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, ".build", "collections"), PYTHONNOUSERSITE="1")
    proc = subprocess.run([SYSTEM_PYTHON, "-I", "-c", "import sys; sys.path.insert(0, %r); exec(%r)"
                           % (env["PYTHONPATH"], code)], capture_output=True, text=True, env=env, check=False)
    if proc.returncode == 77:
        pytest.skip("no cryptography in the OS Python")
    assert proc.returncode == 0, proc.stderr
    version, installer = proc.stdout.split()
    assert installer == "''" or installer.strip("'") in _dependencies.OS_INSTALLERS
