# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A separate Postfix instance configured and started by the postfix_relay role itself (ansible-playbook),
for the tests and benchmarks that send mail through Postfix to an xoauth2-relay: submit with sendmail,
watch the queue, stop it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

from postfix_instance import POSTFIX, stop_master
from processes import wait_until
from local_play import local_play

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
SENDMAIL = shutil.which("sendmail", path=os.environ.get("PATH", "") + ":/usr/sbin")
QUEUES = ("maildrop", "incoming", "active", "deferred", "hold")

PLAY_NAME = "A Postfix instance made by the postfix_relay role"
PLAY = """
  tasks:
    - name: Apply the role
      ansible.builtin.include_role:
        name: xoauth2.mail.postfix_relay
      vars: {role_vars}
"""


def new_root() -> str:
    """A folder Postfix's daemons (user postfix) can reach; the instance's config dir is ``<root>/postfix``."""
    root = tempfile.mkdtemp(prefix="xoauth2-postfix-")
    os.chmod(root, 0o755)
    return root


def apply_role(config_dir: str, relayhost: str, senders, **role_vars) -> subprocess.CompletedProcess:
    """Run the role on ``config_dir`` (no packages installed, no smtpd listener: mail comes in by sendmail),
    relaying through ``relayhost`` with ``senders`` ([{sender, username, password}]); more role variables in
    ``role_vars`` (e.g. postfix_relay_connection_cache). The result of ansible-playbook."""
    values = {"postfix_relay_config_dir": config_dir, "postfix_relay_install": False,
              "postfix_relay_service_method": "postfix", "postfix_relay_smtpd_service": "",
              "postfix_relay_relayhost": relayhost, "postfix_relay_senders": list(senders)}
    values.update(role_vars)
    play = os.path.join(os.path.dirname(config_dir), "play.yml")
    with open(play, "w", encoding="utf-8") as handle:
        handle.write(local_play(PLAY_NAME, PLAY.format(role_vars=json.dumps(values))))
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_HOST_KEY_CHECKING="False",
               ANSIBLE_COLLECTIONS_PATH=COLLECTIONS)
    return subprocess.run([PLAYBOOK, "-i", "localhost,", play], capture_output=True, stdin=subprocess.DEVNULL,
                          text=True, check=False, env=env, timeout=300)


def applied(config_dir: str, relayhost: str, senders, **role_vars) -> subprocess.CompletedProcess:
    """``apply_role``, which must succeed (else AssertionError with the end of its output)."""
    result = apply_role(config_dir, relayhost, senders, **role_vars)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result


def unavailable():
    """Why the role cannot make an instance on this machine, or None."""
    if POSTFIX is None or not os.path.isfile("/usr/share/postfix/main.cf.dist"):
        return "needs Debian's postfix package (tests/stack/install.sh)"
    if os.geteuid() != 0:
        return "the role needs root"
    return None


def postconf(config_dir: str, name: str) -> str:
    return subprocess.run(["postconf", "-c", config_dir, "-h", name], capture_output=True, text=True,
                          check=True).stdout.strip()


def submit(config_dir: str, sender: str, recipient: str, subject: str, body: str = "burst\n") -> None:
    """One message into the instance's queue with its sendmail (postdrop; no SMTP)."""
    text = "From: %s\nTo: %s\nSubject: %s\n\n%s" % (sender, recipient, subject, body)
    subprocess.run([SENDMAIL, "-f", sender, "--", recipient], input=text.encode(), check=True, timeout=60,
                   env=dict(os.environ, MAIL_CONFIG=config_dir))


def queued(config_dir: str, queues=QUEUES) -> int:
    """Messages in the instance's queues (files under each queue folder)."""
    top = postconf(config_dir, "queue_directory")
    return sum(len(files) for queue in queues for dummy, dummy2, files in os.walk(os.path.join(top, queue)))


def wait_for(check, timeout: float, interval: float = 0.02):
    return wait_until(check, timeout, interval)


def remove(root: str) -> None:
    """Stop the instance under ``root`` (if it runs) and delete it."""
    config_dir = os.path.join(root, "postfix")
    if os.path.isfile(os.path.join(config_dir, "main.cf")):
        subprocess.run([POSTFIX, "-c", config_dir, "stop"], capture_output=True, check=False, timeout=60)
    stop_master(os.path.join(config_dir + "-queue", "pid", "master.pid"))
    shutil.rmtree(root, ignore_errors=True)
