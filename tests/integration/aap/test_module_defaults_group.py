# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""module_defaults: group/xoauth2.mail.oauth (meta/runtime.yml action_groups) carries the options once."""
from __future__ import annotations

import base64
import os

import pytest
import yaml

from xoauth2_playbook import REPO, run_playbook

pytestmark = pytest.mark.integration

ALICE = "alice@example.test"


def test_runtime_declares_the_group_with_both_token_modules():
    with open(os.path.join(REPO, "meta", "runtime.yml")) as handle:
        runtime = yaml.safe_load(handle)
    assert sorted(runtime["action_groups"]["oauth"]) == ["oauth_mail_check", "oauth_mail_token"]


def test_group_defaults_reach_both_modules(mail_stack, idp, tmp_path):
    key = base64.b64encode(os.urandom(32)).decode()
    secret = mail_stack.clients["relay-app"]
    token = tmp_path / "alice.token"
    play = """
- hosts: h0
  gather_facts: false
  module_defaults:
    group/xoauth2.mail.oauth:
      provider: oidc
      authority: %(issuer)s
      client_id: relay-app
      client_secret: %(secret)s
      encryption_key: %(key)s
      ca_path: %(ca)s
  tasks:
    - name: Token file, every provider option from the group
      xoauth2.mail.oauth_mail_token:
        path: %(token)s
        username: %(alice)s
        scopes: [mail.send]
      register: made
    - name: Check it over SMTP, key and CA from the group
      xoauth2.mail.oauth_mail_check:
        protocol: smtp
        host: 127.0.0.1
        port: %(submission)s
        security: starttls
        username: %(alice)s
        token_file: %(token)s
      register: checked
    - name: A task's own option wins over the group
      xoauth2.mail.oauth_mail_token:
        path: %(token)s
        min_validity: 100000
      register: renewed
    - name: Results
      ansible.builtin.assert:
        that:
          - made is changed and made.action == 'acquired'
          - checked.authenticated
          # a token of the test IdP lives less than 100000 s: the task's own min_validity renews it
          - renewed.action in ['refreshed', 'acquired']
""" % dict(issuer=mail_stack.issuer, secret=secret, key=key, ca=mail_stack.ca_file, token=token, alice=ALICE,
           submission=mail_stack.submission_port)
    rc, out = run_playbook(tmp_path, play)
    assert rc == 0, out
    assert "failed=0" in out and idp.counters()["token"] == 2
