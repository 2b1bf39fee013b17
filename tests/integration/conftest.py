# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the integration tests: the local test stack (see tests/stack/README.md).

* ``stack``      (session) the IdP, started unless already running
* ``mail_stack`` (session) the IdP plus Dovecot and the upstream Postfix
* ``idp``        (function) the IdP control client; counters, faults and
                 settings reset before the test (and again after it)

What a session started is stopped at its end (by the last session still
using it, so xdist workers share one stack), unless XOAUTH2_STACK_KEEP=1 (or XOAUTH2_KEEP_STACK=1).
A stack started by hand (``python tests/stack/stack.py start``) is never
stopped by pytest.

Only the integration tests need the stack and the early collection finder: the
unit tests (tests/unit) run without either (see tests/conftest.py).
"""

import os
import sys

import pytest

_TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Conftest files of test folders named on the command line are read before
# pytest-ansible installs its finder; install Ansible's collection finder now, so
# that a collection package they import is loaded with its metadata.
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder  # noqa: E402

_AnsibleCollectionFinder(paths=os.environ["ANSIBLE_COLLECTIONS_PATH"].split(os.pathsep))._install()

_STACK_DIR = os.path.join(_TESTS, "stack")
if _STACK_DIR not in sys.path:
    sys.path.insert(0, _STACK_DIR)

from stack import Stack  # noqa: E402


def _keep() -> bool:
    value = os.environ.get("XOAUTH2_STACK_KEEP") or os.environ.get("XOAUTH2_KEEP_STACK") or ""
    return value not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def stack():
    st = Stack()
    st.acquire(idp_only=True)
    yield st
    st.release(keep=_keep())


@pytest.fixture(scope="session")
def mail_stack(stack):
    stack.acquire(idp_only=False)
    return stack


@pytest.fixture
def idp(stack):
    stack.idp.reset()
    yield stack.idp
    stack.idp.reset()  # no fault (e.g. a hang) outlives its test
