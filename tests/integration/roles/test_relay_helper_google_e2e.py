# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Google accounts through the relay_helper and postfix_relay roles, end to end against the real stack.

ansible-playbook applies both roles on this machine (the helper under its init script, in a tmp folder; Postfix
as a separate instance without a listener) with two ``provider: google`` accounts, the test IdP standing in
for Google:

* ``workspace``: a Workspace service account (``flow: service_account``, the stack's JSON key file) acting for
  alice; a message handed to Postfix (``sendmail -C``) reaches alice's inbox through the helper.
* ``gmail``: a Gmail user's grant for bob, from the browser sign-in (``flow: auth_code``: the play shows the
  address, the test signs in on the IdP's real pages as a person would, the redirect reaches the controller's
  loopback listener). The grant is revoked at the IdP's Google-style ``/revoke``; the helper's renewal then
  fails with ``reauth_required``, the account is ``needs_reauth`` and exactly one notice reaches the webhook;
  the role is run again, the person signs in again in the browser, the next message is delivered and exactly
  one recovery notice is sent.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import smtplib
import socket
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from email.message import EmailMessage

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "relay"))
sys.path.insert(0, os.path.join(HERE, "..", "plugins", "action"))

import relay_support as rs  # noqa: E402
from browser_consent import Browser  # noqa: E402
from notice_receiver import WebhookReceiver  # noqa: E402
from postfix_instance import POSTFIX, stop_master  # noqa: E402
from relay_venv import prepared_venv  # noqa: E402

from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile  # noqa: E402
from local_play import local_play  # noqa: E402

PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
SERVICE_ACCOUNT = "mail-relay@xoauth2-test.iam.gserviceaccount.com"
ALICE, BOB = "alice@example.test", "bob@example.test"
SECRETS = {"workspace": "google-e2e-only-workspace-secret", "gmail": "google-e2e-only-gmail-secret"}
WEBHOOK_TOKEN = "google-e2e-webhook-token"
OPEN = re.compile(r"Open in a browser: (\S+)")
# app-only clients of the stack that read a mailbox back over IMAP (not the helper's tokens)
READER = {"alice@example.test": "relay-app", "bob@example.test": "relay-app-bob"}

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="the roles need root (service user, init script)"),
    pytest.mark.skipif(POSTFIX is None or not os.path.isfile("/usr/share/postfix/main.cf.dist"),
                       reason="needs Debian's postfix package (tests/stack/install.sh)"),
]

PLAY_NAME = "relay_helper and postfix_relay with Google accounts, against the test stack"
PLAY = """
  tasks:
    - name: Apply xoauth2.mail.relay_helper
      ansible.builtin.include_role:
        name: xoauth2.mail.relay_helper
      vars:
        relay_helper_install_packages: false
        relay_helper_config_dir: "{root}/etc"
        relay_helper_state_dir: "{root}/state"
        relay_helper_venv: "{venv}"  # shared by the tests of a run: the role's pip task finds it complete
        relay_helper_lib_dir: "{root}/lib"
        relay_helper_command_path: "{root}/bin/xoauth2-relay"
        relay_helper_service_name: "{service}"
        relay_helper_service_manager: init
        relay_helper_service_enabled: false
        relay_helper_pid_file: "{root}/run/helper.pid"
        relay_helper_log_file: "{root}/helper.log"
        relay_helper_listen: "127.0.0.1:{port}"
        relay_helper_settings:
          token_retry_backoff: 1
          pool: {{idle_timeout: 0}}
          timeouts: {{token: 10, shutdown: 10}}
        relay_helper_notify_webhook_url: "{webhook_url}"
        relay_helper_notify_webhook_token: "{{{{ e2e_webhook_token }}}}"
        relay_helper_notify_webhook_ca_file: "{ca}"
        relay_helper_notify_retry_interval: 1
        relay_helper_account_defaults:
          provider: google
          authority: "{issuer}"  # the test IdP stands in for Google
          ca_path: "{ca}"
          upstream: {{host: 127.0.0.1, port: {submission}, ca_file: "{ca}"}}
        relay_helper_accounts:
          - name: workspace
            mailbox: {alice}
            flow: service_account
            service_account_key_file: "{sa_key}"
            local_secret: "{{{{ e2e_secrets.workspace }}}}"
          - name: gmail
            mailbox: {bob}
            client_id: google-desktop
            client_secret: "{{{{ e2e_gmail_client_secret }}}}"
            flow: auth_code  # a browser sign-in on the controller, as Gmail users need
            auth_code_timeout: 120
            local_secret: "{{{{ e2e_secrets.gmail }}}}"

    - name: Apply xoauth2.mail.postfix_relay on a separate instance
      ansible.builtin.include_role:
        name: xoauth2.mail.postfix_relay
      vars:
        postfix_relay_config_dir: "{root}/postfix"
        postfix_relay_install: false
        postfix_relay_service_method: postfix
        postfix_relay_smtpd_service: ""  # no listener: sendmail -C only
        postfix_relay_relayhost: "[127.0.0.1]:{port}"
        postfix_relay_myhostname: relay-google.example.test
        postfix_relay_senders:
          - {{sender: {alice}, username: workspace, password: "{{{{ e2e_secrets.workspace }}}}"}}
        postfix_relay_extra_settings: {{queue_run_delay: 10s, minimal_backoff_time: 10s, maximal_backoff_time: 20s}}
"""


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Deployment:
    """The two roles applied into a tmp folder; ``apply`` runs the play (again), signing bob in when it asks."""

    def __init__(self, stack, webhook):
        self.stack = stack
        self.webhook = webhook
        # the service user must reach its folders: not pytest's root-only tmp_path
        self.root = tempfile.mkdtemp(prefix="xoauth2-google-role-")
        os.chmod(self.root, 0o755)
        self.service = "xoauth2-relay-google-e2e-%s" % uuid.uuid4().hex[:6]
        self.port = _free_port()
        self.play = os.path.join(self.root, "play.yml")
        with open(self.play, "w") as handle:
            handle.write(local_play(PLAY_NAME, PLAY.format(
                root=self.root, venv=prepared_venv(), service=self.service, port=self.port,
                webhook_url=webhook.url, ca=stack.ca_file, issuer=stack.issuer, submission=stack.submission_port,
                alice=ALICE, bob=BOB, sa_key=stack.service_account_key_file(SERVICE_ACCOUNT))))
        self.outputs = []

    def apply(self):
        """Run the play; when it shows a sign-in address, a person signs bob in (a new browser each time)."""
        extra = os.path.join(self.root, "secrets.json")
        fd = os.open(extra, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"e2e_secrets": SECRETS, "e2e_webhook_token": WEBHOOK_TOKEN,
                       "e2e_gmail_client_secret": self.stack.clients["google-desktop"]}, handle)
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"),
                   ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=os.path.join(self.root, "ansible-tmp"),
                   ANSIBLE_HOME=os.path.join(self.root, "ansible-home"))
        proc = subprocess.Popen([PLAYBOOK, "-i", "localhost,", "-e", "@" + extra, self.play], env=env, cwd=self.root,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines, urls, errors = [], [], []

        def read():
            for line in proc.stdout:
                lines.append(line)
                match = OPEN.search(line)
                if match and match.group(1) not in urls:  # shown twice (display, then warning): sign in once
                    urls.append(match.group(1))
                    try:
                        Browser(self.stack.ca_file).sign_in(match.group(1), account=BOB)
                    except Exception as exc:  # reported below
                        errors.append(exc)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        proc.wait(900)
        reader.join(30)
        output = "".join(lines)
        self.outputs.append(output)
        assert proc.returncode == 0 and not errors, (errors, output[-6000:])
        return urls

    def token_file(self, account):
        return os.path.join(self.root, "state", account + ".token")

    def key(self):
        with open(os.path.join(self.root, "etc", "token.key")) as handle:
            return base64.b64decode(handle.readline().strip())

    def status(self):
        result = subprocess.run([os.path.join(self.root, "bin", "xoauth2-relay"), "status", "--json"],
                                capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60, check=False)
        return json.loads(result.stdout)

    @property
    def helper_log(self):
        try:
            with open(os.path.join(self.root, "helper.log"), errors="replace") as handle:
                return handle.read()
        except OSError:
            return ""

    def close(self):
        init_script = "/etc/init.d/" + self.service
        if os.path.exists(init_script):
            subprocess.run([init_script, "stop"], capture_output=True, stdin=subprocess.DEVNULL, timeout=60,
                           check=False)
            os.unlink(init_script)
        postfix_dir = os.path.join(self.root, "postfix")
        if os.path.isfile(os.path.join(postfix_dir, "main.cf")):
            subprocess.run([POSTFIX, "-c", postfix_dir, "stop"], capture_output=True, timeout=60, check=False)
        stop_master(os.path.join(postfix_dir + "-queue", "pid", "master.pid"))
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def webhook(mail_stack):
    receiver = WebhookReceiver(mail_stack.cert_file, mail_stack.key_file, path="/hook/google-e2e")
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def deployment(mail_stack, webhook):
    mail_stack.idp.reset()
    deployed = Deployment(mail_stack, webhook)
    try:
        deployed.signins = deployed.apply()
        yield deployed
    finally:
        deployed.close()
        mail_stack.idp.reset()


def _message(sender, subject):
    msg = EmailMessage()
    msg["From"] = msg["To"] = sender
    msg["Subject"] = subject
    msg["Message-ID"] = "<%s@google-e2e.example.test>" % uuid.uuid4().hex
    msg.set_content("Sent through xoauth2-relay with a Google account.\n")
    return msg


def _received(stack, account, msg):
    """The message as it arrived in ``account``'s inbox (found by Subject, checked by Message-ID)."""
    got = rs.wait_for_subject(stack, account, rs.fresh_token(stack.idp, READER[account]), msg["Subject"])
    assert got["Message-ID"] == msg["Message-ID"]
    return got


def _submit(deployed, account, msg):
    """Straight to the helper (not through Postfix's queue): its reply shows at once."""
    with smtplib.SMTP("127.0.0.1", deployed.port, local_hostname="client.example.test", timeout=30) as client:
        client.login(account, SECRETS[account])
        return client.send_message(msg)


def _try_submit(deployed, account, msg):
    try:
        return _submit(deployed, account, msg) == {}
    except smtplib.SMTPException:  # 454 while the helper still backs off after the failure
        return False


def test_workspace_service_account_mail_through_postfix_and_the_helper_reaches_the_inbox(mail_stack, deployment):
    status = deployment.status()
    assert {a["account"]: a["state"] for a in status["accounts"]} == {"workspace": "valid", "gmail": "valid"}, status
    record = TokenFile(deployment.token_file("workspace"), deployment.key()).read()
    assert (record.meta["provider"], record.meta["flow"], record.meta["username"]) == \
        ("google", "service_account", ALICE)
    assert record.refresh_token is None  # a service account has none: renewals sign a new assertion
    assert mail_stack.idp.counters()["token_by_grant_type"].get("urn:ietf:params:oauth:grant-type:jwt-bearer")

    msg = _message(ALICE, "google-e2e workspace %s" % uuid.uuid4().hex)
    subprocess.run(["/usr/sbin/sendmail", "-C", os.path.join(deployment.root, "postfix"), "-f", ALICE, ALICE],
                   input=msg.as_bytes(), check=True, timeout=60)
    got = _received(mail_stack, ALICE, msg)
    assert "relay-google.example.test" in str(got.get_all("Received"))  # it went through the role's Postfix
    with open(mail_stack.service_account_key_file(SERVICE_ACCOUNT)) as handle:
        private_key = json.load(handle)["private_key"].split("\n")[1]
    for output in deployment.outputs:
        assert private_key not in output and SECRETS["workspace"] not in output


def test_revoked_gmail_grant_one_notice_new_sign_in_delivery_and_one_recovery(mail_stack, deployment, webhook):
    assert len(deployment.signins) == 1  # the first run asked bob to sign in, once
    record = TokenFile(deployment.token_file("gmail"), deployment.key()).read()
    assert (record.meta["provider"], record.meta["flow"], record.meta["username"]) == ("google", "auth_code", BOB)
    assert record.refresh_token
    first = _message(BOB, "google-e2e gmail before %s" % uuid.uuid4().hex)
    assert _submit(deployment, "gmail", first) == {}
    _received(mail_stack, BOB, first)
    assert webhook.delivered == []

    # The person (or Google, after 7 days in "Testing") revokes the grant: Google's revoke, with the access token
    record = TokenFile(deployment.token_file("gmail"), deployment.key()).read()
    revoked = mail_stack.http().post(mail_stack.issuer + "/revoke", data={"token": record.access_token}, timeout=10)
    assert revoked.status_code == 200, revoked.text

    # upstream refuses the token; the helper renews once, Google says invalid_grant: 454, needs_reauth, one notice
    for attempt in range(3):
        with pytest.raises(smtplib.SMTPException) as refused:
            _submit(deployment, "gmail", _message(BOB, "google-e2e gmail refused %d" % attempt))
        assert "sign-in required" in str(refused.value)
    notices = webhook.wait(1)
    assert len(notices) == 1, notices
    assert (notices[0]["account"], notices[0]["state"], notices[0]["category"]) == \
        ("gmail", "needs_reauth", "reauth_required")
    assert webhook.requests[0]["headers"]["Authorization"] == "Bearer " + WEBHOOK_TOKEN
    states = {a["account"]: a["state"] for a in deployment.status()["accounts"]}
    assert states == {"workspace": "valid", "gmail": "needs_reauth"}, states

    # The fix: run the role again; its token task asks for a new sign-in, and the person signs in in the browser
    counted = mail_stack.idp.counters()["token_by_grant_type"].get("authorization_code", 0)
    assert len(deployment.apply()) == 1
    assert mail_stack.idp.counters()["token_by_grant_type"]["authorization_code"] == counted + 1
    renewed = TokenFile(deployment.token_file("gmail"), deployment.key()).read()
    assert renewed.refresh_token and renewed.refresh_token != record.refresh_token
    notices = webhook.wait(2)
    assert [(n["account"], n["state"]) for n in notices] == [("gmail", "needs_reauth"), ("gmail", "valid")]
    assert notices[1]["previous_state"] == "needs_reauth"

    after = _message(BOB, "google-e2e gmail after %s" % uuid.uuid4().hex)
    assert rs.wait_until(lambda: _try_submit(deployment, "gmail", after), timeout=30), deployment.helper_log[-3000:]
    _received(mail_stack, BOB, after)
    time.sleep(3)  # several periodic checks of the helper: nothing is announced twice
    assert len(webhook.requests) == 2 and len(webhook.delivered) == 2
    for secret in (record.refresh_token, renewed.refresh_token, renewed.access_token, record.access_token,
                   WEBHOOK_TOKEN, SECRETS["gmail"]):
        assert secret not in deployment.helper_log
        assert all(secret not in output for output in deployment.outputs)
