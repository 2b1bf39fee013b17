# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the integration tests: the local test stack (``stack``, ``mail_stack``, ``idp``:
see tests/stack/stack_fixtures.py and tests/stack/README.md).

Only the integration tests need the stack and the early collection finder: the
unit tests (tests/unit) run without either (see tests/conftest.py).
"""

import os
import sys

_TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Conftest files of test folders named on the command line are read before
# pytest-ansible installs its finder; install Ansible's collection finder now, so
# that a collection package they import is loaded with its metadata.
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder  # noqa: E402

_AnsibleCollectionFinder(paths=os.environ["ANSIBLE_COLLECTIONS_PATH"].split(os.pathsep))._install()

_STACK_DIR = os.path.join(_TESTS, "stack")
if _STACK_DIR not in sys.path:
    sys.path.insert(0, _STACK_DIR)

from stack_fixtures import idp, mail_stack, stack  # noqa: E402,F401  pylint: disable=unused-import
import postfix_role_instance  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def postfix_role_root():
    """A folder for a Postfix instance made by the postfix_relay role (tests/stack/postfix_role_instance.py),
    stopped and removed after the test."""
    root = postfix_role_instance.new_root()
    yield root
    postfix_role_instance.remove(root)
