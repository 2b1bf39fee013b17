# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared by every test: nothing but where the collection is.

The test stack and its fixtures live in tests/integration/conftest.py, so a unit
run (``pytest tests/unit``) never imports tests/stack nor starts anything.
"""

import os

# pytest-ansible installs Ansible's collection finder from this variable when it
# configures itself (after this file is read): point it at our collection path
# so that a bare `pytest path/to/test_x.py` imports ansible_collections.xoauth2.mail.
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(_REPO, ".build", "collections"))
