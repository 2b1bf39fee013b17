# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""relay_helper with the LSB init script, in a container without systemd (nspawn's stub init as PID 1,
like a host without systemd): a new listen address restarts the helper here too. The init script no
longer names the address, so the restart comes from the role's record of the start-only settings,
not from a changed script."""

from __future__ import annotations

import re

from conftest import free_port, play_header, stack_fields
from test_relay_systemd import helper_banner

BOOT = False  # no systemd in this module's container

PLAY = play_header(
    "The relay helper with the init script",
    "No systemd here (the role picks the init script by itself)", "!= 'systemd'",
    "The test stack's CA") + """
    - name: Apply xoauth2.mail.relay_helper with the init script
      ansible.builtin.include_role:
        name: xoauth2.mail.relay_helper
      vars:
        relay_helper_listen: "127.0.0.1:{port}"
        relay_helper_hostname: relay-init.example.test
        relay_helper_accounts:
          - name: alice
            mailbox: alice@example.test
            provider: microsoft
            authority: "{issuer}"
            scopes: [mail.send]
            ca_path: "{ca}"
            client_id: relay-app
            client_secret: relay-app-secret  # test-only secret of the local test IdP
            local_secret: init-only-alice-secret
            upstream: {{host: 127.0.0.1, port: {submission}, ca_file: "{ca}"}}
"""


def play(stack, port):
    return PLAY.format(port=port, **stack_fields(stack))


def pids(box):
    return box.run(["cat", "/run/xoauth2-relay.pid"], check=False).stdout.strip()


def test_a_new_listen_address_restarts_the_init_script_helper(box, converge, mail_stack):
    old_port, new_port = free_port(), free_port()
    first = converge(play(mail_stack, old_port), "init-first")
    assert first.rc == 0, first.tail()
    assert "relay-init.example.test" in (helper_banner(old_port) or "")
    pid = pids(box)
    init_script = box.run(["cat", "/etc/init.d/xoauth2-relay"]).stdout

    moved = converge(play(mail_stack, new_port), "init-moved")
    assert moved.rc == 0, moved.tail()
    # the script itself did not change: the restart came from the recorded start settings
    assert box.run(["cat", "/etc/init.d/xoauth2-relay"]).stdout == init_script
    assert re.search(r"Record the settings the helper reads only at start \(a change restarts it\)\] \**\nchanged:", moved.stdout), moved.tail()
    assert re.search(r"RUNNING HANDLER \[xoauth2.mail.relay_helper : Restart the relay helper \(init script\)\] \**\n"
                     r"changed:", moved.stdout), moved.tail()
    assert pids(box) != pid
    assert helper_banner(new_port), "the helper does not listen on its new address"
    assert helper_banner(old_port) is None
