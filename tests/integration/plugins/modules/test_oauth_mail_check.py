# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""oauth_mail_check against the real Dovecot IMAP and Postfix submission of the test stack.

Dovecot validates every token by introspection at the test IdP, and Postfix
asks Dovecot: a refused token is really refused by the servers, not by us.
"""
from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.integration

MODULE = "oauth_mail_check"
ALICE = "alice@example.test"
BOB = "bob@example.test"


@pytest.fixture
def check(run_module, mail_stack):
    def run(protocol, token, username=ALICE, check=False, **extra):
        args = dict(protocol=protocol, host="127.0.0.1", username=username, access_token=token,
                    ca_path=mail_stack.ca_file, timeout=10)
        if protocol == "imap":
            args.update(port=mail_stack.imaps_port, security="tls")
        else:
            args.update(port=mail_stack.submission_port, security="starttls")
        args.update(extra)
        args = {name: value for name, value in args.items() if value is not None}
        result = run_module(MODULE, args, check=check)
        assert token not in result.raw, "the token leaked into the module output"
        return result
    return run


@pytest.fixture
def alice_token(idp):
    # relay-app's client-credentials tokens act for alice (app-only, like SMTP.SendAsApp).
    return idp.client_credentials("relay-app", scope="mail.send")["access_token"]


@pytest.mark.parametrize("protocol,extra", [
    ("imap", {}),
    ("imap", {"security": "starttls", "port": None}),
    ("smtp", {}),
])
def test_valid_token_logs_in(check, alice_token, mail_stack, protocol, extra):
    if extra.get("security") == "starttls":
        extra = dict(extra, port=mail_stack.imap_port)
    result = check(protocol, alice_token, **extra)
    assert result.get("failed") is not True, result
    assert result["authenticated"] is True and result["mechanism"] == "XOAUTH2"
    assert result["token_sent"] is True and result["tls_version"].startswith("TLS")
    assert result["changed"] is False
    if protocol == "imap":
        assert result["mailbox"]["name"] == "INBOX" and result["mailbox"]["exists"] >= 0
    else:
        assert any(c.startswith("AUTH") and "XOAUTH2" in c for c in result["capabilities"])


def test_wrong_user_fails_on_both_protocols(check, alice_token, idp):
    for protocol in ("imap", "smtp"):
        result = check(protocol, alice_token, username=BOB)
        assert result["failed"] is True and result["authenticated"] is False, result
        assert result["error_category"] == "authentication"
        assert result["server_reply"] and result["hint"]
        assert BOB in result["msg"]


def test_smtp_refusal_decodes_the_error_challenge(check, alice_token):
    result = check("smtp", alice_token, username=BOB)
    assert result["server_reply"].startswith("535")
    # Postfix relays Dovecot's challenge: the base64 JSON status, decoded.
    assert result["server_status"]["schemes"] == "bearer"
    assert str(result["server_status"]["status"]) in ("400", "401", "invalid_token")


def test_revoked_token_fails(check, alice_token, idp):
    assert check("imap", alice_token)["authenticated"] is True
    idp.revoke(client_id="relay-app")
    for protocol in ("imap", "smtp"):
        result = check(protocol, alice_token)
        assert result["failed"] is True and result["authenticated"] is False
        assert result["error_category"] == "authentication"


def test_expired_token_fails(check, idp):
    idp.configure(client_credentials_ttl=2)
    token = idp.client_credentials("relay-app", scope="mail.send")["access_token"]
    time.sleep(3.2)
    for protocol in ("imap", "smtp"):
        result = check(protocol, token)
        assert result["failed"] is True and result["authenticated"] is False, result
        assert "expired" in result["hint"]


def test_plaintext_port_is_refused_without_sending_the_token(check, alice_token, idp, mail_stack):
    before = idp.counters()["introspection"]
    result = check("smtp", alice_token, port=mail_stack.submission_plain_port, security="starttls")
    assert result["failed"] is True and result["token_sent"] is False
    assert result["error_category"] == "configuration" and "STARTTLS" in result["msg"]
    # The server would have introspected any token it received.
    assert idp.counters()["introspection"] == before


def test_send_test_message_arrives(check, alice_token, mail_stack):
    result = check("smtp", alice_token, send_test_to=ALICE)
    assert result["authenticated"] is True and result["test_message_id"], result
    deadline = time.monotonic() + 15
    while True:
        ids = [m.get("Message-ID") for m in mail_stack.imap_fetch_all(ALICE, alice_token)]
        if result["test_message_id"] in ids:
            break
        assert time.monotonic() < deadline, "test message did not arrive"
        time.sleep(0.2)


def test_check_mode_logs_in_but_sends_nothing(check, alice_token):
    result = check("smtp", alice_token, check=True, send_test_to=ALICE)
    assert result["authenticated"] is True and result["test_message_id"] is None and result["changed"] is False


def test_token_file_is_used_and_renewed_when_expiring(run_module, check, idp, stack, key_text, token_path):
    idp.configure(client_credentials_ttl=60)
    made = run_module("oauth_mail_token", dict(
        path=token_path, provider="oidc", authority=stack.issuer, client_id="relay-app",
        client_secret=stack.clients["relay-app"], scopes=["mail.send"], username=ALICE,
        encryption_key=key_text, ca_path=stack.ca_file))
    assert made["changed"] is True, made
    idp.configure(client_credentials_ttl=3600)
    tokens_before = idp.counters()["token"]
    # check mode: the expiring token is not renewed (and still works for a minute)
    result = check("imap", "unused-placeholder", check=True, access_token=None, username=None,
                   token_file=token_path, encryption_key=key_text)
    assert result["authenticated"] is True and result["token_action"] == "acquired" and result["changed"] is False
    assert result["username"] == ALICE
    assert idp.counters()["token"] == tokens_before
    # normal mode: renewed (min_validity 600 > 60 s left) and then used
    result = check("imap", "unused-placeholder", access_token=None, username=None,
                   token_file=token_path, encryption_key=key_text)
    assert result["authenticated"] is True and result["token_action"] == "acquired" and result["changed"] is True
    assert idp.counters()["token"] == tokens_before + 1


def test_token_file_with_wrong_key_fails_as_storage(check, run_module, stack, key_text, token_path, idp):
    run_module("oauth_mail_token", dict(
        path=token_path, provider="oidc", authority=stack.issuer, client_id="relay-app",
        client_secret=stack.clients["relay-app"], scopes=["mail.send"], username=ALICE,
        encryption_key=key_text, ca_path=stack.ca_file))
    result = check("imap", "unused-placeholder", access_token=None, token_file=token_path,
                   encryption_key="A" * 43 + "=")
    assert result["failed"] is True and result["error_category"] == "storage" and result["token_sent"] is False


def test_bad_certificate_is_a_configuration_error(check, alice_token):
    result = check("imap", alice_token, ca_path=None)
    assert result["failed"] is True and result["error_category"] == "configuration"
    assert result["token_sent"] is False


def test_token_file_on_a_previous_key_is_read_and_left_as_it_is(check, run_module, stack, key_text, token_path, idp):
    # During a key rotation the check reads a file still sealed with the old key; re-sealing is oauth_mail_token's.
    run_module("oauth_mail_token", dict(
        path=token_path, provider="oidc", authority=stack.issuer, client_id="relay-app",
        client_secret=stack.clients["relay-app"], scopes=["mail.send"], username=ALICE,
        encryption_key=key_text, ca_path=stack.ca_file))
    before = open(token_path, "rb").read()
    new_key = "B" * 43 + "="
    result = check("imap", "unused-placeholder", access_token=None, username=None, token_file=token_path,
                   encryption_key=new_key, previous_encryption_keys=[key_text])
    assert result["authenticated"] is True and result["token_action"] == "none", result
    assert open(token_path, "rb").read() == before
