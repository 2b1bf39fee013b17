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
    pytest.mark.skipif(instance.unavailable() is not None, reason=str(instance.unavailable())),
]


def test_the_cache_lists_every_relay_host_the_role_configures_and_off_removes_it(postfix_role_root):
    config_dir = os.path.join(postfix_role_root, "postfix")
    senders = [{"sender": "a@example.test", "username": "a", "password": "p", "relayhost": "[127.0.0.2]:10588"},
               {"sender": "b@example.test", "username": "b", "password": "p",
                "relayhost": "relay.example.test:587, [::1]:10587"},
               {"sender": "@example.org", "username": "c", "password": "p"}]
    instance.applied(config_dir, "[127.0.0.1]:10587", senders, postfix_relay_started=False)
    # host names as Postfix's cache policy matches them; the IPv6 one cannot be listed
    assert instance.postconf(config_dir, "smtp_connection_cache_destinations") == \
        "127.0.0.1, 127.0.0.2, relay.example.test"
    again = instance.applied(config_dir, "[127.0.0.1]:10587", senders, postfix_relay_started=False)
    assert re.search(r"Set the main.cf settings\] \**\nok: \[localhost\]", again.stdout), again.stdout[-3000:]

    instance.applied(config_dir, "[127.0.0.1]:10587", senders, postfix_relay_started=False,
                     postfix_relay_connection_cache=False)
    explicit = subprocess.run(["postconf", "-c", config_dir, "-n"], capture_output=True, text=True,
                              check=True).stdout
    assert "smtp_connection_cache_destinations" not in explicit
