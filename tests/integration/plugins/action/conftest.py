# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the sign-in tests (device code, browser)."""
from __future__ import annotations

import os
import sys

import pytest

# xoauth2_playbook (how our tests run ansible-playbook) lives beside the lookup tests
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lookup"))


@pytest.fixture
def token_path(tmp_path):
    return str(tmp_path / "person.token")
