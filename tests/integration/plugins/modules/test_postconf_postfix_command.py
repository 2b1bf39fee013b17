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
import subprocess
import tempfile
from pathlib import Path

import pytest

from postfix_instance import DIST, POSTCONF, POSTFIX, make_instance, stop_master

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
    d = make_instance(top, "postconf-command-test", "inet_interfaces=loopback-only")
    subprocess.run([POSTCONF, "-c", d, "-M", "-X", "smtp/inet"], check=True)
    subprocess.run([POSTCONF, "-c", d, "-F", "*/*/chroot=n"], check=True)
    yield d
    subprocess.run([POSTFIX, "-c", d, "stop"], capture_output=True, check=False, timeout=60)
    stop_master(top / "queue" / "pid" / "master.pid")
    shutil.rmtree(root, ignore_errors=True)


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
