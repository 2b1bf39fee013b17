# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What galaxy.yml and the getting-started guide say about mail logins is what the code does."""
from __future__ import annotations

import inspect
import os
import re

import yaml

from ansible_collections.xoauth2.mail.plugins.module_utils import _mail_login

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
SASL_MECHANISMS = ("XOAUTH2", "OAUTHBEARER", "PLAIN", "LOGIN")


def test_galaxy_advertises_only_the_mechanism_the_clients_speak():
    with open(os.path.join(REPO, "galaxy.yml"), encoding="utf-8") as handle:
        description = yaml.safe_load(handle)["description"]
    advertised = {word for word in SASL_MECHANISMS if re.search(r"\b%s\b" % word, description)}
    assert advertised == {_mail_login.MECHANISM}


def test_getting_started_says_which_module_needs_imapclient():
    assert 'require("imapclient")' in inspect.getsource(_mail_login.check_imap)
    with open(os.path.join(REPO, "docs", "getting-started.md"), encoding="utf-8") as handle:
        row = [line for line in handle if line.startswith("| `imapclient` |")]
    assert len(row) == 1 and "oauth_mail_check" in row[0] and "not used" not in row[0], row
