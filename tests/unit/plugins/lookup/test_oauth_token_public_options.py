# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The oauth_token lookup memoizes its options through ansible-core's public option API only.

ansible-core's private option attributes differ across the supported range (2.16 has no
``_origins``), so the lookup must neither read nor write them; tests/matrix runs the lookup on
2.16, 2.19 and 2.21. The memo must still spare the config manager on repeated lookups.
"""
from __future__ import annotations

import ast
import base64
import os
import time

import pytest
from ansible.errors import AnsibleLookupError
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.lookup import LookupBase
from ansible.plugins.loader import lookup_loader
from ansible.template import Templar

try:
    from ansible.template import trust_as_template
except ImportError:  # before ansible-core 2.19 every string in a play's variables is a template

    def trust_as_template(value):
        return value

from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile
from ansible_collections.xoauth2.mail.plugins.module_utils._token_record import TokenGrant, TokenRecord

LOOKUP_SOURCE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "plugins", "lookup", "oauth_token.py")
PRIVATE = {"_options", "_origins", "_defs"}


def test_the_lookup_touches_no_private_option_attribute():
    with open(LOOKUP_SOURCE, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    used = sorted({"line %d: self.%s" % (node.lineno, node.attr) for node in ast.walk(tree)
                   if isinstance(node, ast.Attribute) and node.attr in PRIVATE
                   and isinstance(node.value, ast.Name) and node.value.id == "self"})
    assert used == [], "private ansible-core option attributes used: %s" % ", ".join(used)


def _token(path, key):
    now = time.time()
    record = TokenRecord().with_grant(TokenGrant(access_token="access-1", expires_in=3600, requested_at=now), now)
    record.meta.update(provider="oidc", authority="https://idp.invalid/x", client_id="c", flow="refresh_token",
                       scopes=None, username="alice@example.test")
    TokenFile(path, key).replace(record)
    return path


def test_repeated_lookups_resolve_options_once_per_input(tmp_path, monkeypatch):
    key = os.urandom(32)
    key_text = base64.b64encode(key).decode()
    path = _token(str(tmp_path / "a.token"), key)
    resolved = []
    real = LookupBase.set_options

    def counting(self, *args, **kwargs):
        resolved.append(kwargs.get("direct"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(LookupBase, "set_options", counting)

    def run(**options):
        plugin = lookup_loader.get("xoauth2.mail.oauth_token", loader=DataLoader(), templar=None)
        return plugin.run([path], variables={}, **options)

    assert run(output="bearer", encryption_key=key_text) == ["Bearer access-1"]
    assert run(output="bearer", encryption_key=key_text) == ["Bearer access-1"]
    assert len(resolved) == 1, "the second identical lookup went through the config manager again"
    # another input is another memo entry, with its own values
    assert run(output="access_token", encryption_key=key_text) == ["access-1"]
    assert len(resolved) == 2
    # our environment variables are inputs too: a changed key is read, not the memo's
    monkeypatch.setenv("XOAUTH2_MAIL_ENCRYPTION_KEY", key_text)
    assert run() == ["access-1"]
    monkeypatch.setenv("XOAUTH2_MAIL_ENCRYPTION_KEY", base64.b64encode(os.urandom(32)).decode())
    with pytest.raises(AnsibleLookupError, match="error_category=storage"):
        run()
    assert len(resolved) == 4


def test_option_variables_are_templated_like_any_variable(tmp_path):
    """xoauth2_mail_encryption_key: "{{ vault_token_key }}" reaches the option as the key, not as its text."""
    key = os.urandom(32)
    path = _token(str(tmp_path / "a.token"), key)
    variables = {"vault_token_key": base64.b64encode(key).decode(),
                 "xoauth2_mail_encryption_key": trust_as_template("{{ vault_token_key }}")}
    loader = DataLoader()
    plugin = lookup_loader.get("xoauth2.mail.oauth_token", loader=loader,
                               templar=Templar(loader=loader, variables=variables))
    assert plugin.run([path], variables=variables) == ["access-1"]
