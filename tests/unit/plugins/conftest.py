# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures the unit tests of every plugin kind share."""
from __future__ import annotations

import base64
import os

import pytest


@pytest.fixture
def key():
    return os.urandom(32)


@pytest.fixture
def key_text(key):
    return base64.b64encode(key).decode()
