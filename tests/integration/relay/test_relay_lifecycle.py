# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""SIGTERM drains sessions in flight; SIGHUP reloads without dropping sessions; config errors."""
from __future__ import annotations

import json
import signal
import smtplib
import uuid

import pytest

import relay_support as rs

pytestmark = pytest.mark.integration


def test_sigterm_with_a_session_in_flight_loses_nothing(mail_stack, idp, start_relay):
    relay = start_relay()
    subject = "sigterm-%s" % uuid.uuid4().hex
    client = rs.smtp(relay.port)
    client.login("alice", "local-alice")
    client.mail("alice@example.test")
    assert client.rcpt("alice@example.test")[0] == 250
    client.putcmd("DATA")
    assert client.getreply()[0] == 354
    client.send(b"Subject: %s\r\n\r\nfirst half\r\n" % subject.encode())
    relay.signal(signal.SIGTERM)
    assert rs.wait_until(lambda: "stopping" in relay.log)
    # new clients are no longer accepted
    with pytest.raises((ConnectionRefusedError, smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError)):
        with rs.smtp(relay.port, timeout=5) as other:
            other.login("alice", "local-alice")
    client.send(b"second half\r\n.\r\n")
    code, text = client.getreply()
    assert code == 250, text
    # then the relay says goodbye and exits cleanly
    assert client.getreply()[0] == 421
    client.close()
    assert relay.wait(30) == 0
    got = rs.wait_for_subject(mail_stack, "alice@example.test", rs.fresh_token(idp), subject)
    assert "second half" in got.get_payload()


def test_sighup_reloads_without_dropping_sessions(mail_stack, idp, relay_files, start_relay):
    relay = start_relay()
    client = rs.smtp(relay.port)
    client.login("alice", "local-alice")
    accounts = [dict(relay_files["accounts"][0], local_secret="rotated-alice"), relay_files["accounts"][1]]
    rs.write_config(relay_files["config"], accounts)
    relay.signal(signal.SIGHUP)
    assert rs.wait_until(lambda: " reloaded " in relay.log)
    # the session opened before the reload still sends
    assert client.sendmail("alice@example.test", ["alice@example.test"], b"Subject: across reload\r\n\r\nx\r\n") == {}
    client.quit()
    with pytest.raises(smtplib.SMTPAuthenticationError):
        rs.send(relay.port, "alice", "local-alice", rs.message("alice@example.test", "alice@example.test"))
    assert rs.send(relay.port, "alice", "rotated-alice", rs.message("alice@example.test", "alice@example.test")) == {}
    # a broken configuration is refused and the running one kept
    with open(relay_files["config"], "w") as handle:
        json.dump({"accounts": [{"name": "x"}]}, handle)
    relay.signal(signal.SIGHUP)
    assert rs.wait_until(lambda: "reload_failed" in relay.log)
    assert rs.send(relay.port, "bob", "local-bob", rs.message("bob@example.test", "bob@example.test")) == {}


@pytest.mark.parametrize("change, key", [
    ({"listen": "0.0.0.0:10587"}, "listen"),
    ({"bogus": 1}, "bogus"),
    ({"accounts": []}, "accounts"),
    ({"log_level": "loud"}, "log_level"),
    ({"account": {"upstream": {"host": "h", "security": "none"}}}, "accounts[0].upstream.security"),
    ({"account": {"key_file": "/nonexistent"}}, "accounts[0].key_file"),
    ({"account": {"local_secret_hash": "md5$x"}}, "accounts[0].local_secret"),
])
def test_bad_configuration_names_the_key(mail_stack, relay_files, change, key):
    accounts = [dict(relay_files["accounts"][0])]
    top = dict(change)
    if "account" in top:
        accounts[0].update(top.pop("account"))
    if "accounts" in top:
        accounts = top.pop("accounts")
    path = rs.write_config(relay_files["config"], accounts, **top)
    result = rs.relay_cli(path, "serve")
    assert result.returncode == 2
    assert ("configuration error: %s" % key).encode() in result.stderr, result.stderr
    assert b"local-alice" not in result.stderr


def test_runs_from_a_plain_copy_of_module_utils(mail_stack, idp, relay_files, tmp_path):
    """As the relay_helper role installs it: plugins/module_utils copied as a package of any name."""
    import os
    import shutil
    import subprocess
    package_root = tmp_path / "site"
    shutil.copytree(os.path.join(rs.REPO, "plugins", "module_utils"), str(package_root / "xoauth2_core"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    path = rs.write_config(relay_files["config"], relay_files["accounts"])
    env = dict(os.environ, PYTHONPATH=str(package_root))
    result = subprocess.run([rs.RELAY_PYTHON, "-m", "xoauth2_core._relay", "-c", path, "status", "--json"],
                            capture_output=True, env=env, cwd=str(tmp_path), timeout=60, check=False)
    assert result.returncode == 0, result
    assert [a["state"] for a in json.loads(result.stdout)["accounts"]] == ["valid", "valid"]
