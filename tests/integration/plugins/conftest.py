# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures every plugin suite (action, lookup, modules) uses."""
from __future__ import annotations

import base64
import os

import pytest


@pytest.fixture
def key_text():
    """A fresh 32-byte encryption key, base64 as a user writes it in a play."""
    return base64.b64encode(os.urandom(32)).decode()
