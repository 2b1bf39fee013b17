# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""provider google against the test stack standing in for Google.

The test IdP answers Google's JWT bearer grant (it verifies the assertion's
signature with the service account's public key, its audience, lifetime and
delegation), and its tokens log in to the stack's Dovecot as the delegated
mailbox. Key files are Google-shaped and written by the stack.
"""
from __future__ import annotations

import json
import os

import pytest

pytestmark = pytest.mark.integration

MODULE = "oauth_mail_token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DELEGATED_SA = "mail-relay@xoauth2-test.iam.gserviceaccount.com"
UNDELEGATED_SA = "no-delegation@xoauth2-test.iam.gserviceaccount.com"
ALICE = "alice@example.test"


@pytest.fixture
def token_dir(tmp_path):
    folder = tmp_path / "tokens"
    folder.mkdir()
    return folder


@pytest.fixture
def sa_args(mail_stack, key_text, token_dir):
    return dict(path=str(token_dir / "alice.token"), provider="google", authority=mail_stack.issuer,
                flow="service_account", service_account_key_file=mail_stack.service_account_key_file(DELEGATED_SA),
                username=ALICE, encryption_key=key_text, ca_path=mail_stack.ca_file, timeout=10, retries=1)


@pytest.fixture
def key_document(mail_stack):
    with open(mail_stack.service_account_key_file(DELEGATED_SA)) as handle:
        return json.load(handle)


def private_key_body(document):
    return "".join(document["private_key"].strip().splitlines()[1:-1])


def jwt_requests(idp):
    return idp.counters()["token_by_grant_type"].get(JWT_BEARER, 0)


def imap_check(run_module, mail_stack, key_text, path):
    return run_module("oauth_mail_check", dict(
        protocol="imap", host="127.0.0.1", port=mail_stack.imaps_port, security="tls", token_file=path,
        encryption_key=key_text, ca_path=mail_stack.ca_file, timeout=10))


def test_service_account_token_logs_in_as_the_delegated_mailbox(run_module, idp, mail_stack, sa_args, key_text,
                                                                key_document):
    first = run_module(MODULE, sa_args)
    assert first.get("failed") is not True, first
    assert first["changed"] is True and first["action"] == "acquired"
    assert first["provider"] == "google" and first["flow"] == "service_account" and first["username"] == ALICE
    assert first["scopes"] == ["https://mail.google.com/"] and first["expires_in"] > 3000
    assert jwt_requests(idp) == 1
    assert private_key_body(key_document)[:40] not in first.raw

    before = idp.counters()["total"]
    second = run_module(MODULE, sa_args)
    assert second["changed"] is False and second["action"] == "none"
    assert idp.counters()["total"] == before  # no request at all

    check = imap_check(run_module, mail_stack, key_text, sa_args["path"])
    assert check.get("failed") is not True, check
    assert check["authenticated"] is True and check["username"] == ALICE
    assert check["mailbox"]["name"] == "INBOX"


def test_renewal_without_the_key_signs_with_the_sealed_one(run_module, idp, mail_stack, sa_args, key_text):
    first = run_module(MODULE, dict(sa_args, return_token=True))
    assert first["action"] == "acquired", first
    # What the lookup and the relay have: the file and its encryption key, no service account key.
    renew = dict(path=sa_args["path"], state="refreshed", encryption_key=key_text, ca_path=mail_stack.ca_file,
                 return_token=True)
    second = run_module(MODULE, renew)
    assert second.get("failed") is not True, second
    assert second["changed"] is True and second["action"] == "acquired"
    assert second["access_token"] != first["access_token"]
    assert jwt_requests(idp) == 2
    assert idp.inspect(second["access_token"])["username"] == ALICE
    # The upstream Postfix (SASL through Dovecot) accepts it as alice, and the message arrives in her inbox.
    subject = "google-sa-%s" % os.urandom(4).hex()
    mail_stack.smtp_send_xoauth2(ALICE, second["access_token"], to=ALICE, subject=subject)
    assert mail_stack.wait_for_message(ALICE, second["access_token"], subject, timeout=20)


@pytest.mark.parametrize("service_account, mailbox", [
    (DELEGATED_SA, "carol@example.test"),   # a mailbox the account is not delegated for
    (UNDELEGATED_SA, ALICE),                # an account without any delegation
])
def test_missing_delegation_names_the_admin_console_step(run_module, idp, mail_stack, sa_args, token_dir,
                                                         service_account, mailbox):
    args = dict(sa_args, username=mailbox, path=str(token_dir / "refused.token"),
                service_account_key_file=mail_stack.service_account_key_file(service_account))
    result = run_module(MODULE, args)
    assert result["failed"] is True
    assert result["error_category"] == "configuration" and result["error_code"] == "unauthorized_client"
    client_id = mail_stack.service_accounts[service_account]["client_id"]
    for words in ("Admin console", "Domain-wide delegation", client_id, "https://mail.google.com/", mailbox):
        assert words in result["msg"], (words, result["msg"])
    assert not os.path.exists(args["path"])  # no token file (the lock of the attempt may stay, as always)
    assert jwt_requests(idp) == 1  # a configuration error is not retried


def broken(document):
    lines = document["private_key"].splitlines()
    return dict(document, private_key="\n".join(lines[:4] + lines[6:]))


BAD_KEYS = {
    "user credentials, not a key": lambda d: {"type": "authorized_user", "client_id": "x", "client_secret": "y",
                                              "refresh_token": "1//z"},
    "no private_key_id": lambda d: {k: v for k, v in d.items() if k != "private_key_id"},
    "private key does not load": broken,
    "not JSON": lambda d: d["private_key"],
}


@pytest.mark.parametrize("as_file", [True, False], ids=["file", "content"])
@pytest.mark.parametrize("case", sorted(BAD_KEYS))
def test_bad_key_is_a_named_error_and_writes_nothing(run_module, idp, sa_args, token_dir, tmp_path, key_document,
                                                     case, as_file):
    content = BAD_KEYS[case](key_document)
    text = content if isinstance(content, str) else json.dumps(content)
    args = dict(sa_args)
    del args["service_account_key_file"]
    if as_file:
        key_path = tmp_path / "key.json"
        key_path.write_text(text)
        args["service_account_key_file"] = str(key_path)
    else:
        args["service_account_key"] = text
    result = run_module(MODULE, args)
    assert result["failed"] is True
    assert result["error_category"] == "configuration"
    assert result["error_option"] == ("service_account_key_file" if as_file else "service_account_key")
    assert "Traceback" not in result.raw
    assert private_key_body(key_document)[:40] not in result.raw and "PRIVATE KEY" not in result.raw
    assert os.listdir(str(token_dir)) == []
    assert idp.counters()["token"] == 0


def test_gmail_user_grant_refreshes_and_logs_in(run_module, idp, mail_stack, key_text, token_dir):
    """A Gmail-style user grant: seeded refresh token, client secret, the same token endpoint."""
    minted = idp.mint(client_id="relay-app-bob", account="bob@example.test",
                      scope="openid offline_access https://mail.google.com/")
    args = dict(path=str(token_dir / "bob.token"), provider="google", authority=mail_stack.issuer,
                client_id="relay-app-bob", client_secret=mail_stack.clients["relay-app-bob"],
                refresh_token=minted["refresh_token"], username="bob@example.test", encryption_key=key_text,
                ca_path=mail_stack.ca_file, timeout=10, retries=1)
    first = run_module(MODULE, args)
    assert first.get("failed") is not True, first
    assert first["action"] == "acquired" and first["flow"] == "refresh_token"
    assert minted["refresh_token"] not in first.raw and mail_stack.clients["relay-app-bob"] not in first.raw
    renewed = run_module(MODULE, dict(path=args["path"], state="refreshed", encryption_key=key_text,
                                      ca_path=mail_stack.ca_file))
    assert renewed["action"] == "refreshed", renewed
    check = imap_check(run_module, mail_stack, key_text, args["path"])
    assert check["authenticated"] is True and check["username"] == "bob@example.test"


def test_relay_helper_renews_the_service_account_token_alone(run_module, idp, mail_stack, sa_args, key_text):
    """xoauth2-relay builds its session from the token file only (provider_ca_file, timeout, retries)."""
    import base64
    from types import SimpleNamespace

    from ansible_collections.xoauth2.mail.plugins.module_utils._relay.tokens import make_session

    assert run_module(MODULE, sa_args)["action"] == "acquired"
    account = SimpleNamespace(provider_ca_file=mail_stack.ca_file, token_file=sa_args["path"],
                              key=base64.b64decode(key_text), previous_keys=[])
    outcome = make_session(account, timeout=10, retries=1).ensure_valid(600, force=True)
    assert outcome.action == "acquired" and jwt_requests(idp) == 2
    mail_stack.imap_login(ALICE, outcome.record.access_token).logout()
