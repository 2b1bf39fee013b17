# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""relay_helper and postfix_relay under a real systemd (a booted Debian container, see conftest.py).

One container for the module; the tests run in file order on what the first converge built:
the unit runs and is enabled, a second converge changes nothing, reload keeps an open session,
a crash restarts, the hardening holds, systemd-analyze scores the unit, mail submitted inside reaches
the right inbox on the host's stack, and a new listen address restarts the helper.
"""

from __future__ import annotations

import re
import smtplib
import time
import uuid

import pytest

from conftest import free_port, play_header, stack_fields

SERVICE = "xoauth2-relay"
STATE_DIR = "/var/lib/xoauth2-relay"
SENDERS = {"alice": "alice@example.test", "bob": "bob@example.test"}
SECRETS = {"alice": "systemd-only-alice-secret", "bob": "systemd-only-bob-secret"}  # test-only local logins

PLAY = play_header(
    "The relay helper and Postfix relaying through it, under systemd",
    "The container's service manager is systemd (the role picks the unit, not the init script)", "== 'systemd'",
    "The test stack's CA (PrivateTmp hides the host's /tmp path from the service)") + """
    - name: Apply xoauth2.mail.relay_helper
      ansible.builtin.include_role:
        name: xoauth2.mail.relay_helper
      vars:
        relay_helper_listen: "127.0.0.1:{port}"
        relay_helper_hostname: relay-systemd.example.test
        relay_helper_settings:
          token_retry_backoff: 2
          timeouts:
            token: 10
            shutdown: 10
        relay_helper_account_defaults:
          provider: microsoft
          authority: "{issuer}"
          scopes: [mail.send]
          ca_path: "{ca}"
          upstream:
            host: 127.0.0.1
            port: {submission}
            security: starttls
            ca_file: "{ca}"
        relay_helper_accounts:
          - name: alice
            mailbox: alice@example.test
            client_id: relay-app
            client_secret: relay-app-secret  # test-only secret of the local test IdP
            local_secret: {alice}
          - name: bob
            mailbox: bob@example.test
            client_id: relay-app-bob
            client_secret: relay-app-bob-secret  # test-only secret of the local test IdP
            local_secret: {bob}

    - name: Apply xoauth2.mail.postfix_relay (the machine's own Postfix, /etc/postfix, as a systemd service)
      ansible.builtin.include_role:
        name: xoauth2.mail.postfix_relay
      vars:
        postfix_relay_smtpd_service: ""  # no listener (the loopback is the host's): sendmail only
        postfix_relay_relayhost: "[127.0.0.1]:{port}"
        postfix_relay_myhostname: relay-systemd.example.test
        # set: Debian 13's pristine main.cf says myorigin = /etc/mailname, which "No configuration" never writes
        postfix_relay_myorigin: example.test
        postfix_relay_senders:
          - sender: alice@example.test
            username: alice
            password: {alice}
          - sender: bob@example.test
            username: bob
            password: {bob}
        postfix_relay_extra_settings:
          queue_run_delay: 5s
          minimal_backoff_time: 5s
          maximal_backoff_time: 10s
"""


def play_text(stack, port):
    return PLAY.format(port=port, alice=SECRETS["alice"], bob=SECRETS["bob"], **stack_fields(stack))


@pytest.fixture(scope="module")
def first(box, converge, mail_stack):
    port = free_port()
    result = converge(play_text(mail_stack, port), "first")
    assert result.rc == 0, result.tail()
    return {"port": port, "result": result}


def main_pid(box) -> int:
    return int(box.run(["systemctl", "show", "-P", "MainPID", SERVICE]).stdout.strip())


def journal(box, since_cursor=None) -> str:
    argv = ["journalctl", "-u", SERVICE, "-o", "cat", "--no-pager"]
    if since_cursor:
        argv += ["--after-cursor", since_cursor]
    return box.run(argv).stdout


def cursor(box) -> str:
    out = box.run(["journalctl", "-u", SERVICE, "-n", "1", "--show-cursor", "--no-pager", "-o", "cat"]).stdout
    return re.search(r"-- cursor: (\S+)", out).group(1)


def wait_for(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


def helper_banner(port):
    """The helper's 220 greeting on the shared loopback, or None if nothing listens there."""
    try:
        with smtplib.SMTP("127.0.0.1", port, local_hostname="host.test", timeout=10) as client:
            return client.ehlo()[1].decode(errors="replace")
    except (ConnectionRefusedError, smtplib.SMTPServerDisconnected):
        return None


def inbox_count(stack, mailbox, text):
    token = stack.idp.mint(account=mailbox, scope="openid mail.imap")["access_token"]
    return stack.imap_count(mailbox, token, text)


def wait_in_inbox(stack, mailbox, text, timeout=60.0):
    return wait_for(lambda: inbox_count(stack, mailbox, text) >= 1, timeout, "%r in %s" % (text, mailbox))


def sendmail_inside(box, sender, subject):
    box.run(["/usr/sbin/sendmail", "-f", sender, sender],
            input_text="From: %s\nTo: %s\nSubject: %s\n\nSubmitted inside the systemd container.\n"
            % (sender, sender, subject))


# -- the tests, in order ---------------------------------------------------------------


def test_unit_is_started_and_enabled(box, first):
    state = box.run(["systemctl", "is-active", SERVICE], check=False).stdout.strip()
    assert state == "active", journal(box)[-3000:]
    assert box.run(["systemctl", "is-enabled", SERVICE], check=False).stdout.strip() == "enabled"
    # the unit of the role, not an init script through systemd's sysv generator
    fragment = box.run(["systemctl", "show", "-P", "FragmentPath", SERVICE]).stdout.strip()
    assert fragment == "/etc/systemd/system/%s.service" % SERVICE
    assert box.run(["test", "-e", "/etc/init.d/" + SERVICE], check=False).returncode != 0
    assert "relay-systemd.example.test" in helper_banner(first["port"])


def test_second_converge_changes_nothing(box, converge, first, mail_stack):
    again = converge(play_text(mail_stack, first["port"]), "again")
    assert again.rc == 0, again.tail()
    assert again.changed == 0, again.changed_tasks()


def test_reload_keeps_an_open_session(box, first, mail_stack):
    pid = main_pid(box)
    mark = cursor(box)
    subject = "systemd reload %s" % uuid.uuid4().hex[:8]
    with smtplib.SMTP("127.0.0.1", first["port"], local_hostname="host.test", timeout=30) as client:
        client.login("alice", SECRETS["alice"])
        client.mail(SENDERS["alice"])
        client.rcpt(SENDERS["alice"])
        box.run(["systemctl", "reload", SERVICE])
        wait_for(lambda: " reloaded" in journal(box, mark), what="the helper's reloaded log line")
        message = "Subject: %s\r\nFrom: %s\r\nTo: %s\r\n\r\nsent across a reload\r\n" % (
            subject, SENDERS["alice"], SENDERS["alice"])
        code, _reply = client.data(message)
        assert code == 250
    assert main_pid(box) == pid  # a SIGHUP, not a restart
    wait_in_inbox(mail_stack, SENDERS["alice"], subject)


def test_a_crash_restarts_the_service(box, first):
    pid = main_pid(box)
    restarts = int(box.run(["systemctl", "show", "-P", "NRestarts", SERVICE]).stdout.strip())
    box.run(["kill", "-9", str(pid)])
    # RestartSec=5: back within a generous bound
    new = wait_for(lambda: (main_pid(box) not in (0, pid)) and main_pid(box), timeout=60, what="a new main PID")
    wait_for(lambda: helper_banner(first["port"]), timeout=30, what="the helper listening again")
    assert new != pid
    assert int(box.run(["systemctl", "show", "-P", "NRestarts", SERVICE]).stdout.strip()) == restarts + 1


def test_the_service_has_no_capabilities_and_no_new_privileges(box, first):
    pid = main_pid(box)
    status = dict(line.split(":\t", 1) for line in box.run(["cat", "/proc/%d/status" % pid]).stdout.splitlines()
                  if ":\t" in line)
    for field in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[field].strip(), 16) == 0, (field, status[field])
    assert status["NoNewPrivs"].strip() == "1"
    user = box.run(["stat", "-c", "%U", "/proc/%d" % pid]).stdout.strip()
    assert user == "xoauth2-relay"


@pytest.mark.parametrize("path", ["/etc/xoauth2-relay/probe", "/opt/xoauth2-relay/lib/probe", "/usr/local/bin/probe",
                                  "/var/lib/probe", "/etc/postfix/probe", "/root/probe", "/home/probe"])
def test_the_service_cannot_write_outside_its_state_folder(box, first, path):
    # in the service's own mount namespace, even as root: the folders are read-only (or hidden)
    ns = ["nsenter", "-t", str(main_pid(box)), "-m", "--"]
    as_root = box.run(ns + ["/bin/sh", "-c", 'echo x >"$1"', "probe", path], check=False)
    assert as_root.returncode != 0, path
    assert re.search(r"Read-only file system|Permission denied|No such file", as_root.stderr), as_root.stderr
    assert box.run(["test", "-e", path], check=False).returncode != 0


def test_the_service_can_write_its_state_folder(box, first):
    ns = ["nsenter", "-t", str(main_pid(box)), "-m", "--",
          "setpriv", "--reuid=xoauth2-relay", "--regid=xoauth2-relay", "--clear-groups"]
    probe = STATE_DIR + "/probe-" + uuid.uuid4().hex[:8]
    box.run(ns + ["/bin/sh", "-c", 'echo x >"$1" && rm "$1"', "probe", probe])


def test_systemd_analyze_security_scores_ok_or_better(box, first):
    out = box.run(["systemd-analyze", "security", "--no-pager", SERVICE + ".service"], check=False).stdout
    overall = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", out)
    assert overall, out[-2000:]
    score, verdict = float(overall.group(1)), overall.group(2)
    print("systemd-analyze security %s.service: %s %s" % (SERVICE, score, verdict))
    assert verdict in ("PERFECT", "SAFE", "OK"), out


def test_mail_submitted_inside_reaches_the_right_inbox(box, first, mail_stack):
    tag = "systemd sendmail %s" % uuid.uuid4().hex[:8]
    for account, sender in SENDERS.items():
        sendmail_inside(box, sender, "%s from %s" % (tag, account))
    for account, sender in SENDERS.items():
        wait_in_inbox(mail_stack, sender, "%s from %s" % (tag, account))
    for account, sender in SENDERS.items():
        other = "bob" if account == "alice" else "alice"
        assert inbox_count(mail_stack, sender, "%s from %s" % (tag, other)) == 0


def test_a_new_listen_address_restarts_the_helper(box, converge, first, mail_stack):
    """Regression: a listen change only reloaded the helper, which kept its old socket."""
    old_port, new_port = first["port"], free_port()
    pid = main_pid(box)
    mark = cursor(box)
    moved = converge(play_text(mail_stack, new_port), "moved")
    assert moved.rc == 0, moved.tail()
    assert "reload_listen_ignored" not in journal(box, mark)
    assert main_pid(box) != pid
    assert helper_banner(new_port), "the helper does not listen on its new address"
    assert helper_banner(old_port) is None
    relayhost = box.run(["postconf", "-h", "relayhost"]).stdout.strip()
    assert relayhost == "[127.0.0.1]:%d" % new_port
    subject = "systemd moved %s" % uuid.uuid4().hex[:8]
    sendmail_inside(box, SENDERS["alice"], subject)
    wait_in_inbox(mail_stack, SENDERS["alice"], subject)
    first["port"] = new_port
