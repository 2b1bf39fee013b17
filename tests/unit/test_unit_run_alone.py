# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The unit tests run alone: no test stack on sys.path, nothing started."""
from __future__ import annotations

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Runs pytest in a child whose import system refuses the stack package (tests/stack/stack.py).
_CHILD = """
import sys
import pytest

class NoStack:
    def find_spec(self, name, path=None, target=None):
        if name == "stack" or name.startswith("stack."):
            raise ImportError("the test stack is not available here")
        return None

sys.meta_path.insert(0, NoStack())
code = pytest.main(sys.argv[1:])
sys.exit(int(code) if "stack" not in sys.modules else 70)
"""


def test_a_unit_file_runs_without_the_stack_package():
    env = dict(os.environ, XOAUTH2_NO_STACK="1", PYTHONDONTWRITEBYTECODE="1")
    target = os.path.join("tests", "unit", "plugins", "module_utils", "test_xoauth2.py")
    proc = subprocess.run([sys.executable, "-c", _CHILD, "-q", "-p", "no:cacheprovider", target],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert " passed" in proc.stdout
