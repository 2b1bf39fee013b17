# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The parts of the test stack (tests/stack) each on its own: layout, service configs, the shared service steps,
leases, and the command line. None of these needs the running stack: each uses its own folder and free ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

import dovecot_service
import postfix_upstream
from leases import Leases
from processes import pid_alive
from stack_config import DEFAULT_PORTS, StackError
from stack_env import stack_variables
from stack_layout import StackLayout
from stack_service import StackService

pytestmark = pytest.mark.integration

STACK_PY = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "stack", "stack.py")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def own_ports(monkeypatch):
    """Ports of our own for every service (a stack that may run beside is not touched)."""
    ports = {name: free_port() for name in DEFAULT_PORTS}
    for name, port in ports.items():
        monkeypatch.setenv(f"XOAUTH2_STACK_{name.upper()}_PORT", str(port))
    return ports


def test_the_layout_takes_its_ports_from_the_environment_and_its_paths_from_the_folder(tmp_path, own_ports):
    layout = StackLayout(str(tmp_path))
    assert layout.ports == own_ports
    assert layout.issuer == "https://127.0.0.1:%d/idp" % own_ports["idp"]
    assert layout.lmtp_socket == str(tmp_path / "dovecot" / "base" / "lmtp")
    assert layout.postfix_config_dir == str(tmp_path / "postfix" / "etc")
    assert layout.pidfile("dovecot") == str(tmp_path / "run" / "dovecot.pid")


def test_each_service_config_is_made_from_the_layout_alone(tmp_path, own_ports):
    layout = StackLayout(str(tmp_path))
    dovecot = dovecot_service.dovecot_config(layout, "/x/oauth2.conf.ext")
    assert "port = %d\n" % own_ports["imap"] in dovecot and "port = %d\n" % own_ports["imaps"] in dovecot
    assert "args = /x/oauth2.conf.ext" in dovecot
    oauth2 = dovecot_service.oauth2_config(layout, "s3cret")
    assert "https://dovecot:s3cret@127.0.0.1:%d/idp/token/introspection" % own_ports["idp"] in oauth2
    master = postfix_upstream.master_cf(layout)
    assert "127.0.0.1:%d inet" % own_ports["submission"] in master
    assert "127.0.0.1:%d inet" % own_ports["submission_plain"] in master
    main = postfix_upstream.main_cf(layout)
    assert "virtual_transport = lmtp:unix:%s\n" % layout.lmtp_socket in main
    assert "smtpd_sasl_path = %s\n" % layout.auth_socket in main


class _Service(StackService):
    """A stand-in service: ``sleep`` that never answers."""

    name = "standin"
    match = "sleep"

    def __init__(self, layout, port):
        super().__init__(layout)
        self.port = port
        self.launched = False

    def ports(self):
        return (self.port,)

    def ok(self):
        return False

    def launch(self, binary, timeout):
        self.launched = True
        return self.spawn(["sleep", "60"])


def test_a_port_held_by_something_else_is_refused_before_anything_starts(tmp_path, own_ports):
    layout = StackLayout(str(tmp_path))
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        service = _Service(layout, port)
        with pytest.raises(StackError, match="port %d is in use by a process this stack did not start" % port):
            service.start(timeout=5)
    assert not service.launched


def test_a_service_that_never_answers_is_stopped_again_and_its_log_named(tmp_path, own_ports):
    layout = StackLayout(str(tmp_path))
    os.makedirs(layout.run_dir)
    os.makedirs(layout.log_dir)
    service = _Service(layout, free_port())
    with pytest.raises(StackError) as failure:
        service.start(timeout=0.5)
    assert "standin did not come up" in str(failure.value) and layout.logfile("standin") in str(failure.value)
    assert service.launched and service.pid() is None and not os.path.exists(layout.pidfile("standin"))
    assert "start: sleep 60" in open(layout.logfile("standin"), encoding="utf-8").read()


def test_the_last_lease_holder_gets_what_lease_holders_started(tmp_path):
    leases = Leases(str(tmp_path))
    ended = subprocess.Popen(["true"])  # noqa: S603,S607
    ended.wait()
    assert not pid_alive(ended.pid)
    leases.add(os.getpid(), ["idp"])
    leases.add(ended.pid, ["dovecot", "postfix"])
    other = subprocess.Popen(["sleep", "60"])  # noqa: S603,S607
    try:
        leases.add(other.pid, [])
        assert leases.drop(os.getpid()) is True  # a live holder remains
    finally:
        other.kill()
        other.wait()
    assert leases.drop(other.pid) is False  # the ended holder's lease went with it
    assert leases.take_started() == ["dovecot", "idp", "postfix"]
    assert leases.take_started() is None


def test_env_prints_the_layout_variables_as_export_lines(tmp_path, own_ports):
    proc = subprocess.run([sys.executable, STACK_PY, "--dir", str(tmp_path), "env"], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60, check=True)
    expected = stack_variables(StackLayout(str(tmp_path)))
    lines = proc.stdout.splitlines()
    assert [line.split("=", 1)[0] for line in lines] == ["export %s" % name for name in expected]
    assert "export XOAUTH2_STACK_SUBMISSION_PLAIN_PORT=%d" % own_ports["submission_plain"] in lines
    assert not os.listdir(str(tmp_path))  # env only describes: it creates nothing
