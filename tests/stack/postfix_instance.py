# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A private Postfix instance as the postfix_relay role makes one, for the tests of postconf and the role."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

POSTCONF = shutil.which("postconf", path=os.environ.get("PATH", "") + ":/usr/sbin")
POSTFIX = shutil.which("postfix", path=os.environ.get("PATH", "") + ":/usr/sbin")
DIST = "/usr/share/postfix"


def make_instance(top, syslog_name: str, *settings: str) -> str:
    """etc/, queue/ and data/ under ``top`` (a pathlib.Path), main.cf and master.cf from the package's pristine
    copies; returns the configuration folder. ``settings`` are more ``name=value`` for main.cf."""
    etc = top / "etc"
    for sub in (etc, top / "queue", top / "data"):
        sub.mkdir(parents=True)
    shutil.chown(str(top / "data"), "postfix", "postfix")
    shutil.copy(os.path.join(DIST, "main.cf.dist"), str(etc / "main.cf"))
    shutil.copy(os.path.join(DIST, "master.cf.dist"), str(etc / "master.cf"))
    config_dir = str(etc)
    # main.cf.dist leaves these empty for the packager; the compiled-in defaults are right
    subprocess.run([POSTCONF, "-c", config_dir, "-X", "setgid_group", "sendmail_path", "newaliases_path",
                    "mailq_path", "html_directory", "manpage_directory", "sample_directory", "readme_directory"],
                   check=True)
    subprocess.run([POSTCONF, "-c", config_dir, "-e", "queue_directory=%s" % (top / "queue"),
                    "data_directory=%s" % (top / "data"), "syslog_name=%s" % syslog_name,
                    "maillog_file=%s" % (top / "maillog"), "maillog_file_prefixes=%s" % top] + list(settings),
                   check=True)
    return config_dir


def stop_master(pid_file) -> None:
    """Stop an instance's master by its pid file (`postfix stop` refuses a configuration that fails the check)."""
    try:
        with open(pid_file, encoding="ascii") as handle:
            pid = int(handle.read().split()[0])
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError, IndexError):
        return
    for _attempt in range(100):
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.1)
