# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""xoauth2.mail.postconf's postfix_command against a real, private Postfix instance in a tmp dir.

The instance has no network listener (only Postfix's internal unix services), so it clashes with nothing.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

POSTCONF = shutil.which("postconf", path=os.environ.get("PATH", "") + ":/usr/sbin")
POSTFIX = shutil.which("postfix", path=os.environ.get("PATH", "") + ":/usr/sbin")
DIST = "/usr/share/postfix"

pytestmark = [
    pytest.mark.skipif(POSTCONF is None or POSTFIX is None or not os.path.isfile(os.path.join(DIST, "main.cf.dist")),
                       reason="needs Debian's postfix package (tests/stack/install.sh)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="postfix start needs root"),
]


@pytest.fixture
def instance():
    """A separate instance as the postfix_relay role makes one, stopped and removed after the test."""
    # not under pytest's tmp_path: its folders are private to root, and Postfix's daemons run as postfix
    root = tempfile.mkdtemp(prefix="xoauth2-postconf-command-")
    os.chmod(root, 0o755)
    top = Path(root) / "pf"
    etc = top / "etc"
    for sub in (etc, top / "queue", top / "data"):
        sub.mkdir(parents=True)
    shutil.chown(str(top / "data"), "postfix", "postfix")
    shutil.copy(os.path.join(DIST, "main.cf.dist"), str(etc / "main.cf"))
    shutil.copy(os.path.join(DIST, "master.cf.dist"), str(etc / "master.cf"))
    d = str(etc)
    subprocess.run([POSTCONF, "-c", d, "-X", "setgid_group", "sendmail_path", "newaliases_path", "mailq_path",
                    "html_directory", "manpage_directory", "sample_directory", "readme_directory"], check=True)
    subprocess.run([POSTCONF, "-c", d, "-e", "queue_directory=%s" % (top / "queue"),
                    "data_directory=%s" % (top / "data"), "syslog_name=postconf-command-test",
                    "maillog_file=%s" % (top / "maillog"), "maillog_file_prefixes=%s" % top,
                    "inet_interfaces=loopback-only"], check=True)
    subprocess.run([POSTCONF, "-c", d, "-M", "-X", "smtp/inet"], check=True)
    subprocess.run([POSTCONF, "-c", d, "-F", "*/*/chroot=n"], check=True)
    yield d
    subprocess.run([POSTFIX, "-c", d, "stop"], capture_output=True, check=False, timeout=60)
    _stop_master(top / "queue" / "pid" / "master.pid")  # `postfix stop` refuses a configuration that fails the check
    shutil.rmtree(root, ignore_errors=True)


def _stop_master(pid_file):
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError, IndexError):
        return
    for _attempt in range(100):
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.1)


def runs(config_dir):
    return subprocess.run([POSTFIX, "-c", config_dir, "status"], capture_output=True, check=False).returncode == 0


def test_start_status_reload_stop_change_only_when_needed(run_module, instance):
    args = {"config_dir": instance}
    status = run_module("postconf", dict(args, postfix_command="status"))
    assert status["changed"] is False and status["running"] is False, status

    would = run_module("postconf", dict(args, postfix_command="start"), check=True)
    assert would["changed"] is True and not runs(instance)
    assert run_module("postconf", dict(args, postfix_command="reload"))["changed"] is False  # nothing to reload

    started = run_module("postconf", dict(args, postfix_command="start"))
    assert started["changed"] is True and started["running"] is True, started
    assert runs(instance)
    assert run_module("postconf", dict(args, postfix_command="start"))["changed"] is False
    assert run_module("postconf", dict(args, postfix_command="status"))["running"] is True

    reloaded = run_module("postconf", dict(args, postfix_command="reload"))
    assert reloaded["changed"] is True and "refreshing the Postfix mail system" in reloaded["postfix_output"]

    stopped = run_module("postconf", dict(args, postfix_command="stop"))
    assert stopped["changed"] is True and stopped["running"] is False
    assert not runs(instance)
    assert run_module("postconf", dict(args, postfix_command="stop"))["changed"] is False


def test_a_failed_start_reports_postfix_fatal_error(run_module, instance):
    # passes `postfix check`, fails when master binds: the message is printed only to a terminal
    subprocess.run([POSTCONF, "-c", instance, "-e", "inet_interfaces=192.0.2.1"], check=True)
    result = run_module("postconf", {"config_dir": instance, "postfix_command": "start"})
    assert result["failed"] is True
    assert "postfix_command: postfix -c %s start failed" % instance in result["msg"]
    assert "no local interface found for 192.0.2.1" in result["msg"], result["msg"]
    assert not runs(instance)


def test_reload_does_not_reload_a_configuration_that_fails_the_check(run_module, instance):
    assert run_module("postconf", {"config_dir": instance, "postfix_command": "start"})["changed"] is True
    subprocess.run([POSTCONF, "-c", instance, "-e", "message_size_limit=abc"], check=True)
    result = run_module("postconf", {"config_dir": instance, "postfix_command": "reload"})
    assert result["failed"] is True
    assert "so the instance was not reloaded" in result["msg"]
    assert "bad numerical configuration" in result["validation"], result
