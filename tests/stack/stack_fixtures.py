# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""pytest fixtures of the local test stack, imported by the conftest of every suite that needs it
(tests/integration, tests/systemd).

* ``stack``      (session) the IdP, started unless already running
* ``mail_stack`` (session) the IdP plus Dovecot and the upstream Postfix
* ``idp``        (function) the IdP control client; counters, faults and
                 settings reset before the test (and again after it)

What a session started is stopped at its end (by the last session still
using it, so xdist workers share one stack), unless XOAUTH2_STACK_KEEP=1 (or XOAUTH2_KEEP_STACK=1).
A stack started by hand (``python tests/stack/stack.py start``) is never
stopped by pytest.
"""

import os

import pytest

from stack import Stack


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
def mail_stack(stack):  # pylint: disable=redefined-outer-name
    stack.acquire(idp_only=False)
    return stack


@pytest.fixture
def idp(stack):  # pylint: disable=redefined-outer-name
    stack.idp.reset()
    yield stack.idp
    stack.idp.reset()  # no fault (e.g. a hang) outlives its test
