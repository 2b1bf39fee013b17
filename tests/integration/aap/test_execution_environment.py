# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Execution environments: what ansible-builder reads from the collection, and the example EE's build context.

No container engine here: `ansible-builder create` writes the build context only.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from xoauth2_playbook import COLLECTIONS, REPO, playbook_env

pytestmark = pytest.mark.integration

BUILDER = os.path.join(os.path.dirname(sys.executable), "ansible-builder")
# What the controller side imports (lookup, action plugin), and oauth_mail_check's IMAP
# library for modules run on localhost inside the EE.
CONTROLLER_LIBRARIES = {"cryptography", "msal", "requests", "pyjwt", "imapclient"}


def _names(requirements):
    return {re.split(r"[<>=!~ ;\[#]", line.strip(), maxsplit=1)[0].lower() for line in requirements
            if line.strip() and not line.strip().startswith("#")}


def _runtime_requirements():
    with open(os.path.join(REPO, "requirements.txt")) as handle:
        return _names(handle)


def test_introspect_finds_the_controller_libraries():
    proc = subprocess.run([BUILDER, "introspect", "--sanitize", COLLECTIONS], capture_output=True, text=True,
                          env=playbook_env(), timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    found = yaml.safe_load(proc.stdout.split("\n", 1)[1] if proc.stdout.startswith("#") else proc.stdout)
    python = found["python"]
    assert all("# from collection xoauth2.mail" in line for line in python)
    assert _names(line.split("#")[0] for line in python) == CONTROLLER_LIBRARIES == _runtime_requirements()
    assert found["system"] == []
    # the same minimums as the managed host's (no release with a known vulnerability)
    with open(os.path.join(REPO, "requirements.txt")) as handle:
        wanted = {line.strip() for line in handle if line.strip() and not line.startswith("#")}
    assert {line.split("#")[0].strip() for line in python} == wanted


def test_example_ee_build_context(tmp_path):
    folder = tmp_path / "ee"
    shutil.copytree(os.path.join(REPO, "docs", "examples"), folder)
    context = tmp_path / "context"
    proc = subprocess.run([BUILDER, "create", "-f", str(folder / "execution-environment.yml"), "-c", str(context),
                           "--output-filename", "Containerfile"],
                          capture_output=True, text=True, env=playbook_env(), timeout=300, cwd=str(folder),
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    containerfile = (context / "Containerfile").read_text()
    with open(context / "_build" / "requirements.yml") as handle:
        galaxy = yaml.safe_load(handle)
    assert [c["name"] for c in galaxy["collections"]] == ["xoauth2.mail"]
    assert "ansible-galaxy collection install" in containerfile
    # the builder's introspection of the installed collections adds their Python libraries
    assert "introspect" in containerfile and "pip_install" in containerfile
    assert "ansible-core" in containerfile and "ansible-runner" in containerfile
