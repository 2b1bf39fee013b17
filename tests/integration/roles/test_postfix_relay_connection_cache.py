# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""postfix_relay_connection_cache: Postfix keeps its connections to the helper for the next message.

What the role writes into main.cf (ansible-playbook on a separate Postfix instance, not started); the
end-to-end tests through real Postfix -> xoauth2-relay -> upstream are in
tests/integration/relay/test_relay_behind_postfix.py.
"""
from __future__ import annotations

import os
import re
import subprocess

import pytest

import postfix_role_instance as instance

pytestmark = [
    pytest.mark.skipif(instance.POSTFIX is None or not os.path.isfile("/usr/share/postfix/main.cf.dist"),
                       reason="needs Debian's postfix package (tests/stack/install.sh)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the role needs root"),
]


@pytest.fixture
def postfix_root():
    root = instance.new_root()
    yield root
    instance.remove(root)


def applied(config_dir, relayhost, senders, **role_vars):
    result = instance.apply_role(config_dir, relayhost, senders, **role_vars)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result


def test_the_cache_lists_every_relay_host_the_role_configures_and_off_removes_it(postfix_root):
    config_dir = os.path.join(postfix_root, "postfix")
    senders = [{"sender": "a@example.test", "username": "a", "password": "p", "relayhost": "[127.0.0.2]:10588"},
               {"sender": "b@example.test", "username": "b", "password": "p",
                "relayhost": "relay.example.test:587, [::1]:10587"},
               {"sender": "@example.org", "username": "c", "password": "p"}]
    applied(config_dir, "[127.0.0.1]:10587", senders, postfix_relay_started=False)
    # host names as Postfix's cache policy matches them; the IPv6 one cannot be listed
    assert instance.postconf(config_dir, "smtp_connection_cache_destinations") == \
        "127.0.0.1, 127.0.0.2, relay.example.test"
    again = applied(config_dir, "[127.0.0.1]:10587", senders, postfix_relay_started=False)
    assert re.search(r"Set the main.cf settings\] \**\nok: \[localhost\]", again.stdout), again.stdout[-3000:]

    applied(config_dir, "[127.0.0.1]:10587", senders, postfix_relay_started=False,
            postfix_relay_connection_cache=False)
    explicit = subprocess.run(["postconf", "-c", config_dir, "-n"], capture_output=True, text=True,
                              check=True).stdout
    assert "smtp_connection_cache_destinations" not in explicit
