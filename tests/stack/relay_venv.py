# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One prepared venv for the relay_helper role, shared by the tests of a run (and later runs).

Building the helper's venv (pip: msal, cryptography, requests) is most of what a role test costs. Tests
give the role this venv as ``relay_helper_venv``: the role's own pip task still runs against it, with the
role's packages and constraints, and finds everything satisfied; only the download and build are shared.
The venv holds dependencies only (the helper's code lives in ``relay_helper_lib_dir``), so sharing it
shares nothing a test checks.

The folder is keyed by what decides the venv's content (the Python, the role's package list and
constraints file), so a change to either gets a new venv. Built under a lock (pytest-xdist, molecule),
in place, and marked complete only at the end: an interrupted build is thrown away and made again.

    python tests/stack/relay_venv.py        # prints the venv's path, building it first if needed
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
ROLE = os.path.join(REPO, "roles", "relay_helper")
CONSTRAINTS = os.path.join(ROLE, "files", "constraints.txt")
DEFAULTS = os.path.join(ROLE, "defaults", "main.yml")
# the role's default relay_helper_python
PYTHON = "/usr/bin/python3"
# the service user must reach the venv: not a root-only folder
CACHE_ROOT = os.environ.get("XOAUTH2_TEST_VENV_CACHE", "/var/tmp/xoauth2-test-venvs")
COMPLETE = ".complete"


def role_packages(defaults=DEFAULTS):
    """The role's default ``relay_helper_pip_packages`` (a plain YAML list; no YAML library needed)."""
    packages, inside = [], False
    with open(defaults) as handle:
        for line in handle:
            if line.startswith("relay_helper_pip_packages:"):
                inside = True
            elif inside and line.startswith("  - "):
                packages.append(line[4:].strip())
            elif inside:
                break
    if not packages:
        raise RuntimeError("no relay_helper_pip_packages in %s" % defaults)
    return packages


def _python_version(python):
    return subprocess.run([python, "-c", "import sys; print(sys.version)"], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, check=True, timeout=60).stdout.strip()


def cache_key(python=PYTHON, packages=None, constraints=CONSTRAINTS):
    digest = hashlib.sha256()
    digest.update(("%s\n%s\n" % (python, _python_version(python))).encode())
    digest.update("\n".join(packages or role_packages()).encode())
    with open(constraints, "rb") as handle:
        digest.update(handle.read())
    return digest.hexdigest()[:16]


def _build(venv, python, packages, constraints):
    subprocess.run([python, "-m", "venv", venv], check=True, stdin=subprocess.DEVNULL, timeout=300)
    subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", "--disable-pip-version-check",
                    "-c", constraints] + list(packages), check=True, stdin=subprocess.DEVNULL, timeout=900)


def prepared_venv(python=PYTHON, packages=None, constraints=CONSTRAINTS, root=CACHE_ROOT):
    """The path of a complete venv with the role's packages (built now if no run built it before)."""
    packages = packages or role_packages()
    folder = os.path.join(root, "relay-helper-" + cache_key(python, packages, constraints))
    venv = os.path.join(folder, "venv")
    os.makedirs(root, mode=0o755, exist_ok=True)
    with open(folder + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(os.path.join(folder, COMPLETE)):
            shutil.rmtree(folder, ignore_errors=True)  # a build that was interrupted
            os.makedirs(folder, mode=0o755)
            os.chmod(folder, 0o755)  # whatever the umask: the service user runs the venv's python
            _build(venv, python, packages, constraints)
            open(os.path.join(folder, COMPLETE), "w").close()
    return venv


if __name__ == "__main__":
    sys.stdout.write(prepared_venv() + "\n")
