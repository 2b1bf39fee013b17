# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""relay_helper's key file program (files/make_key.py), run the way tasks/install.yml runs it."""
from __future__ import annotations

import base64
import glob
import os
import stat
import subprocess
import sys

import yaml

ROLE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "relay_helper"))
PROGRAM = os.path.join(ROLE, "files", "make_key.py")


def make_key(path, umask=0o022):
    """python3 -c <program> KEY_FILE, as the task's argv does."""
    with open(PROGRAM, encoding="utf-8") as handle:
        source = handle.read()
    return subprocess.run([sys.executable, "-c", source, str(path)], capture_output=True, text=True, check=False,
                          timeout=60, preexec_fn=lambda: os.umask(umask))


def test_a_new_key_is_32_random_bytes_in_base64_mode_0600_whatever_the_umask(tmp_path):
    path = tmp_path / "token.key"
    proc = make_key(path, umask=0)
    assert proc.returncode == 0, proc.stderr
    text = path.read_text()
    assert text.endswith("\n") and len(base64.b64decode(text.strip(), validate=True)) == 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    other = tmp_path / "other.key"
    assert make_key(other).returncode == 0 and other.read_text() != text


def test_an_existing_key_is_never_overwritten(tmp_path):
    path = tmp_path / "token.key"
    path.write_text("the key in use\n")
    proc = make_key(path)
    assert proc.returncode == 1 and "exists already" in proc.stderr
    assert path.read_text() == "the key in use\n"


def test_a_planted_link_is_not_followed(tmp_path):
    target = tmp_path / "elsewhere"
    path = tmp_path / "token.key"
    os.symlink(str(target), str(path))
    proc = make_key(path)
    assert proc.returncode == 1 and not target.exists()
    dangling = tmp_path / "dangling.key"
    os.symlink(str(tmp_path / "nowhere" / "x"), str(dangling))
    assert make_key(dangling).returncode == 1


def test_a_missing_folder_is_a_clear_error(tmp_path):
    proc = make_key(tmp_path / "no" / "token.key")
    assert proc.returncode == 1 and "cannot make the key file" in proc.stderr and "Traceback" not in proc.stderr


def test_the_install_task_runs_the_file_and_no_task_hides_a_program():
    with open(os.path.join(ROLE, "tasks", "install.yml"), encoding="utf-8") as handle:
        tasks = yaml.safe_load(handle)
    task = next(t for t in tasks if "token key on the host once" in t["name"])
    assert "make_key.py" in task["ansible.builtin.command"]["argv"][2]
    hidden = []
    for path in glob.glob(os.path.join(ROLE, "tasks", "*.yml")) + glob.glob(os.path.join(ROLE, "vars", "*.yml")):
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        if "import " in text or "sys.argv" in text or "os.open(" in text:
            hidden.append(os.path.relpath(path, ROLE))
    assert hidden == []
