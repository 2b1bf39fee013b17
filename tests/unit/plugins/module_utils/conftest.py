# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import json
import os

import pytest

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


@pytest.fixture
def token_path(tmp_path):
    return str(tmp_path / "relay.token")


# Imports of the collection happen inside fixtures: pytest-ansible installs
# Ansible's collection finder after conftest files are read, and a collection
# package imported before that confuses the finder.
@pytest.fixture
def record():
    from token_samples import make_record
    return make_record()


@pytest.fixture
def provider_errors():
    with open(os.path.join(FIXTURES, "provider_errors.json")) as handle:
        data = json.load(handle)
    data.pop("_comment")
    return data


@pytest.fixture
def token_file(token_path, key):
    from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile
    return TokenFile(token_path, key)
