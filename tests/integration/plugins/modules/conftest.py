# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run our modules the way Ansible runs them on a host: a process with JSON arguments."""
from __future__ import annotations

import subprocess

import pytest
from module_runner import module_command, module_env, parse_run


@pytest.fixture
def run_module(tmp_path):
    def run(name, args, check=False, diff=True, timeout=120):
        proc = subprocess.run(module_command(name, args, tmp_path, check, diff), capture_output=True, check=False,
                              env=module_env(), timeout=timeout)
        return parse_run(proc.stdout, proc.stderr)
    return run


@pytest.fixture
def token_path(tmp_path):
    return str(tmp_path / "mailbox.token")


@pytest.fixture
def app_args(stack, key_text, token_path):
    """App-only token (client credentials) from the generic OIDC provider."""
    return dict(path=token_path, provider="oidc", authority=stack.issuer, client_id="relay-app",
                client_secret=stack.clients["relay-app"], scopes=["mail.send"], username="alice@example.test",
                encryption_key=key_text, ca_path=stack.ca_file, timeout=10, retries=3)
