# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from xoauth2_playbook import run_playbook  # noqa: E402


@pytest.fixture
def playbook(tmp_path):
    def run(text, *args, **kwargs):
        return run_playbook(tmp_path, text, *args, **kwargs)
    return run
