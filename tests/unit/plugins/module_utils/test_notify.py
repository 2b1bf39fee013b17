# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Notices: once per state change from the status writer, retried when a send fails, a real command."""
from __future__ import annotations

import json
import os

import pytest

from ansible_collections.xoauth2.mail.plugins.module_utils import _status_file as status_file
from ansible_collections.xoauth2.mail.plugins.module_utils._errors import (
    ConfigurationError, ReauthRequired, TemporaryError)
from ansible_collections.xoauth2.mail.plugins.module_utils._notify import (
    NoticeSettings, Notifier, build_notice, fix_text, run_command)
from ansible_collections.xoauth2.mail.plugins.module_utils._options import notifier_from_options


def _script(folder, exit_code=0, body=""):
    """A real command: writes its environment to a new file per run."""
    folder.mkdir(exist_ok=True)
    path = folder / "notice.sh"
    path.write_text('#!/bin/sh\nout=$(mktemp "%s/run.XXXXXX")\nenv > "$out"\n%s\nexit %d\n' % (folder, body, exit_code))
    path.chmod(0o755)
    return str(path)


def _runs(folder):
    names = sorted((n for n in os.listdir(folder) if n.startswith("run.")),
                   key=lambda n: os.stat(os.path.join(folder, n)).st_mtime_ns)
    return [dict(line.split("=", 1) for line in open(os.path.join(folder, n)).read().splitlines() if "=" in line)
            for n in names]


@pytest.fixture
def status_path(tmp_path):
    return str(tmp_path / "alice.token.status")


@pytest.fixture
def command_dir(tmp_path):
    return tmp_path / "command"


@pytest.fixture
def notifier(status_path, command_dir):
    settings = NoticeSettings(command=[_script(command_dir)], timeout=10, retry_interval=60, account="alice")
    return Notifier(settings, status_path[:-len(".status")], username="alice@example.test", flow="device_code")


def _fail(path, error, notifier):
    return status_file.record_failure(path, 0o600, None, None, error, notifier)


def _ok(path, notifier):
    return status_file.record_success(path, 0o600, None, None, "refreshed", notifier)


REVOKED = ReauthRequired("The grant was revoked.", code="invalid_grant", hint="Sign in again.")


def test_first_token_sends_nothing_a_change_sends_one_and_repeats_send_none(status_path, command_dir, notifier):
    assert _ok(status_path, notifier) is None
    assert not command_dir.joinpath("run.x").exists() and _runs(command_dir) == []
    for attempt in range(3):
        assert _fail(status_path, REVOKED, notifier) is None
    runs = _runs(command_dir)
    assert len(runs) == 1
    env = runs[0]
    assert env["XOAUTH2_STATE"] == "needs_reauth" and env["XOAUTH2_PREVIOUS_STATE"] == "valid"
    assert env["XOAUTH2_CATEGORY"] == "reauth_required" and env["XOAUTH2_CODE"] == "invalid_grant"
    assert env["XOAUTH2_ACCOUNT"] == "alice" and env["XOAUTH2_USERNAME"] == "alice@example.test"
    assert env["XOAUTH2_HINT"] == "Sign in again." and "flow: device_code" in env["XOAUTH2_FIX"]
    assert json.loads(env["XOAUTH2_NOTICE_JSON"])["kind"] == "reauth_required"
    status = status_file.read_status(status_path)
    assert status["consecutive_failures"] == 3 and status["notice"] == {
        "announced": "needs_reauth", "last_sent_at": status["notice"]["last_sent_at"],
        "last_sent_state": "needs_reauth"}
    # another kind of failure is another state; the recovery is one more notice
    _fail(status_path, TemporaryError("The provider did not answer."), notifier)
    _ok(status_path, notifier)
    _ok(status_path, notifier)
    assert [r["XOAUTH2_STATE"] for r in _runs(command_dir)] == ["needs_reauth", "error", "valid"]
    assert _runs(command_dir)[2]["XOAUTH2_KIND"] == "recovered"


def test_a_writer_without_notifier_leaves_the_notice_pending_for_the_next(status_path, command_dir, notifier):
    _ok(status_path, None)
    _fail(status_path, REVOKED, None)  # e.g. the lookup: records, sends nothing
    pending = status_file.read_status(status_path)["notice"]["pending"]
    assert pending["state"] == "needs_reauth" and pending["attempts"] == 0
    assert status_file.notice_due(status_path)
    assert status_file.deliver_pending(status_path, 0o600, None, None, notifier) is None
    assert len(_runs(command_dir)) == 1
    assert not status_file.notice_due(status_path)
    assert status_file.deliver_pending(status_path, 0o600, None, None, notifier) is None
    assert len(_runs(command_dir)) == 1


def test_failed_send_is_kept_and_retried_with_backoff_never_raising(status_path, tmp_path):
    broken = tmp_path / "broken"
    settings = NoticeSettings(command=[_script(broken, exit_code=2, body="echo 'no mail server' >&2")],
                              retry_interval=60)
    notifier = Notifier(settings, status_path[:-len(".status")])
    _ok(status_path, notifier)
    problem = _fail(status_path, REVOKED, notifier)
    assert "not sent" in problem and "exited with 2: no mail server" in problem
    status = status_file.read_status(status_path)
    assert status["state"] == "needs_reauth"  # the status itself was written
    pending = status["notice"]["pending"]
    assert pending["attempts"] == 1 and pending["next_attempt_at"] - pending["last_attempt_at"] == 60
    # not yet due: a second failure neither sends nor counts an attempt
    _fail(status_path, REVOKED, notifier)
    assert len(_runs(broken)) == 1
    # due: retried, and the wait doubles
    data = json.load(open(status_path))
    data["notice"]["pending"]["next_attempt_at"] = 0
    open(status_path, "w").write(json.dumps(data))
    assert "attempt 2" in status_file.deliver_pending(status_path, 0o600, None, None, notifier)
    pending = status_file.read_status(status_path)["notice"]["pending"]
    assert pending["attempts"] == 2 and pending["next_attempt_at"] - pending["last_attempt_at"] == 120
    assert len(_runs(broken)) == 2


def test_recovery_before_delivery_cancels_the_notice(status_path, tmp_path):
    broken = tmp_path / "broken"
    notifier = Notifier(NoticeSettings(command=[_script(broken, exit_code=1)]), status_path[:-len(".status")])
    _ok(status_path, notifier)
    _fail(status_path, REVOKED, notifier)
    _ok(status_path, notifier)
    assert "pending" not in status_file.read_status(status_path)["notice"]
    assert len(_runs(broken)) == 1  # nobody heard of the problem: no recovery notice either


def test_only_undelivered_channels_are_retried(status_path, command_dir):
    # the webhook cannot connect (nothing listens on port 1): the command is not run again on the retry
    settings = NoticeSettings(command=[_script(command_dir)], webhook_url="https://127.0.0.1:1/hook?key=s3cr3t",
                              timeout=5)
    notifier = Notifier(settings, status_path[:-len(".status")])
    _ok(status_path, notifier)
    problem = _fail(status_path, REVOKED, notifier)
    assert "webhook 127.0.0.1:1" in problem and "s3cr3t" not in problem and "/hook" not in problem
    data = json.load(open(status_path))
    assert data["notice"]["pending"]["delivered"] == ["command"]
    data["notice"]["pending"]["next_attempt_at"] = 0
    open(status_path, "w").write(json.dumps(data))
    status_file.deliver_pending(status_path, 0o600, None, None, notifier)
    assert len(_runs(command_dir)) == 1
    assert "s3cr3t" not in open(status_path).read()


def test_command_is_stopped_after_its_timeout_with_what_it_started(tmp_path):
    marker = tmp_path / "child-finished"
    script = _script(tmp_path / "slow", body="(sleep 30; touch %s) &\nsleep 30" % marker)
    problem = run_command([script], {"state": "error"}, timeout=1)
    assert "did not finish within 1 s" in problem
    assert not marker.exists()


def test_command_environment_holds_no_variable_of_the_caller(tmp_path, monkeypatch):
    monkeypatch.setenv("CLIENT_SECRET_OF_THE_CALLER", "do-not-pass-me")
    folder = tmp_path / "env"
    assert run_command([_script(folder)], {"state": "needs_reauth", "hint": "line one\nline two"}, 10) is None
    env = _runs(folder)[0]
    assert "do-not-pass-me" not in json.dumps(env)
    assert env["XOAUTH2_HINT"] == "line one line two" and env["XOAUTH2_STATE"] == "needs_reauth"


def test_notice_says_how_to_fix_it():
    context = {"token_file": "/var/lib/xoauth2-relay/alice.token", "account": "alice", "flow": "refresh_token"}
    status = {"consecutive_failures": 1, "last_error": {"error_category": "reauth_required",
                                                        "error_code": "invalid_grant", "message": "Revoked."}}
    notice = build_notice(status, {"state": "needs_reauth", "previous_state": "valid", "since": 0}, context,
                          NoticeSettings())
    assert "/var/lib/xoauth2-relay/alice.token" in notice["fix"] and "refresh_token" in notice["fix"]
    assert "browser sign-in" in notice["fix"] and "recovery notice" in notice["fix"]
    custom = fix_text("needs_reauth", "reauth_required", "device_code", "/t", "Launch 'Re-auth' for {account}", "bob")
    assert custom.startswith("Launch 'Re-auth' for bob")
    assert "retried on its own" in fix_text("error", "temporary", None, "/t", "custom", "a")
    assert "Correct the setting" in fix_text("error", "configuration", None, "/t", None, "a")


@pytest.mark.parametrize("options, option, text", [
    ({"notify_command": ["notice.sh"]}, "notify_command", "absolute path"),
    ({"notify_command": ["/nonexistent/notice.sh"]}, "notify_command", "not an executable file"),
    ({"notify_webhook_url": "http://hooks.example.test/x?token=abc"}, "notify_webhook_url", "https://"),
    ({"notify_webhook_url": " "}, "notify_webhook_url", "empty"),
    ({"notify_webhook_url": "https://h/x", "notify_timeout": 0}, "notify_timeout", "1 to 3600"),
    ({"notify_webhook_url": "https://h/x", "notify_webhook_ca_path": "/nonexistent.pem"}, "notify_webhook_ca_path",
     "not a file"),
])
def test_bad_options_name_the_option_and_never_echo_the_url(options, option, text):
    with pytest.raises(ConfigurationError) as error:
        notifier_from_options(options.get, "/t/alice.token")
    assert error.value.option == option and text in error.value.message
    assert "token=abc" not in str(error.value)


def test_no_notice_options_no_notifier():
    assert notifier_from_options({}.get, "/t/alice.token") is None
