# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""oauth_mail_token run by Ansible itself (pytest-ansible): AnsiballZ packing, no_log masking."""
from __future__ import annotations

import base64
import json
import os

import pytest

pytestmark = pytest.mark.integration

MODULE = "xoauth2.mail.oauth_mail_token"


def test_idempotent_through_ansible_and_secrets_masked(localhost, stack, idp, tmp_path):
    args = dict(path=str(tmp_path / "ansible.token"), provider="oidc", authority=stack.issuer,
                client_id="relay-app", client_secret=stack.clients["relay-app"], scopes=["mail.send"],
                username="alice@example.test", encryption_key=base64.b64encode(os.urandom(32)).decode(),
                ca_path=stack.ca_file)
    run = getattr(localhost, MODULE)
    first = run(**args)["localhost"]
    assert first["changed"] is True and first["action"] == "acquired", first
    written = open(args["path"], "rb").read()
    second = run(**args)["localhost"]
    assert open(args["path"], "rb").read() == written
    assert second["changed"] is False and second["action"] == "none"
    assert idp.counters()["token"] == 1
    shown = json.dumps(dict(first)) + json.dumps(dict(second))
    assert stack.clients["relay-app"] not in shown and args["encryption_key"] not in shown
