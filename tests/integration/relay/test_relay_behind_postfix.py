# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real Postfix, configured by the postfix_relay role, in front of the helper: Postfix -> xoauth2-relay ->
the stack's upstream Postfix and Dovecot. With postfix_relay_connection_cache (the default) Postfix keeps its
connection to the helper for the sender's next message, and a cached connection the helper closed costs no
message a deferral."""
from __future__ import annotations

import os
import re
import time
import uuid

import pytest

import relay_support as rs
import postfix_role_instance as instance

ALICE = "alice@example.test"
ALICE_LOGIN = {"sender": ALICE, "username": "alice", "password": "local-alice"}  # the relay's local login

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(instance.unavailable() is not None, reason=str(instance.unavailable())),
]


def relay_sessions(relay):
    """The sessions (ids) of the relay's messages from alice that upstream took, and every (session, code)."""
    found = re.findall(r" message session=(\S+) .*sender=<?%s>? .*upstream=\"?(\d{3})" % re.escape(ALICE), relay.log)
    return [session for session, code in found if code == "250"], found


@pytest.fixture
def relay_for_postfix(start_relay, relay_files):
    """The helper with alice's account only; Postfix logs in as alice."""
    def start(**top):
        return start_relay(accounts=[relay_files["accounts"][0]], **top)
    return start


def send_one_by_one(config_dir, relay, count, tag, gap=0.0):
    """``count`` messages from alice, each submitted once the previous one left the queue (and the relay
    logged it): never a backlog, so Postfix's on-demand caching does not engage."""
    for index in range(count):
        if gap:
            time.sleep(gap)
        instance.submit(config_dir, ALICE, ALICE, "%s %d" % (tag, index))
        assert instance.wait_for(lambda done=index + 1: len(relay_sessions(relay)[1]) >= done
                                 and instance.queued(config_dir) == 0, 60), relay.log[-3000:]


def maillog(config_dir):
    with open(config_dir + ".log", encoding="utf-8", errors="replace") as handle:
        return handle.read()


def test_messages_from_one_sender_share_relay_sessions_and_all_arrive(
        mail_stack, idp, relay_for_postfix, postfix_role_root):
    relay = relay_for_postfix()
    config_dir = os.path.join(postfix_role_root, "postfix")
    instance.applied(config_dir, "[127.0.0.1]:%d" % relay.port, [ALICE_LOGIN])
    tag = "cache-%s" % uuid.uuid4().hex[:12]
    send_one_by_one(config_dir, relay, 20, tag)

    delivered, logged = relay_sessions(relay)
    assert len(delivered) == len(logged) == 20, logged
    # one connection, one login, for many messages (the cache off: one session per message)
    assert len(set(delivered)) < 20, "every message had its own relay session"
    assert "status=deferred" not in maillog(config_dir) and "status=bounced" not in maillog(config_dir)
    assert instance.wait_for(lambda: rs.imap_count(mail_stack, idp, ALICE, tag) == 20, 60)


def test_a_cached_connection_the_relay_closed_costs_no_deferral(mail_stack, idp, relay_for_postfix, postfix_role_root):
    # The relay ends an idle session after timeouts.client (here 1 s, below Postfix's 2 s cache idle limit):
    # Postfix's RSET probe on the cached connection finds it closed and opens a new one.
    relay = relay_for_postfix(timeouts={"client": 1, "token": 20, "connect": 20, "command": 30, "data": 60})
    config_dir = os.path.join(postfix_role_root, "postfix")
    instance.applied(config_dir, "[127.0.0.1]:%d" % relay.port, [ALICE_LOGIN])
    tag = "closed-%s" % uuid.uuid4().hex[:12]
    send_one_by_one(config_dir, relay, 3, tag, gap=1.5)

    delivered, logged = relay_sessions(relay)
    assert len(delivered) == len(logged) == 3, logged
    assert "client_timeout" in relay.log  # the cached connections were indeed closed by the relay
    assert len(set(delivered)) == 3
    assert "status=deferred" not in maillog(config_dir) and "status=bounced" not in maillog(config_dir)
