# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Self-tests of the local test stack (tests/stack): IdP, Dovecot, upstream Postfix."""

import time

import msal
import pytest
import requests

pytestmark = pytest.mark.integration


# ------------------------------------------------------------------ IdP


def test_discovery(stack, idp):
    r = stack.http().get(f"{stack.issuer}/.well-known/openid-configuration", timeout=5)
    assert r.status_code == 200
    meta = r.json()
    assert meta["issuer"] == stack.issuer == f"https://127.0.0.1:{stack.idp_port}/idp"
    assert meta["token_endpoint"] == f"{stack.issuer}/token"
    assert meta["device_authorization_endpoint"] == f"{stack.issuer}/device/auth"
    assert meta["introspection_endpoint"] == f"{stack.issuer}/token/introspection"
    assert meta["revocation_endpoint"] == f"{stack.issuer}/token/revocation"
    for gt in ("client_credentials", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"):
        assert gt in meta["grant_types_supported"]
    assert {"mail.send", "mail.imap", "offline_access"} <= set(meta["scopes_supported"])
    assert idp.counters()["discovery"] == 1


def test_ca_is_enforced(stack, idp):
    # the test CA is not in the system store: plain verification must fail
    s = requests.Session()
    s.trust_env = False
    with pytest.raises(requests.exceptions.SSLError):
        s.get(f"{stack.issuer}/.well-known/openid-configuration", timeout=5)


def test_client_credentials_with_msal(stack, idp):
    for client_id, mailbox in (("relay-app", "alice@example.test"), ("relay-app-bob", "bob@example.test")):
        app = msal.ConfidentialClientApplication(
            client_id, client_credential=stack.clients[client_id],
            oidc_authority=stack.issuer, http_client=stack.http(),
        )
        result = app.acquire_token_for_client(["mail.send"])
        assert "access_token" in result, result
        assert result["expires_in"] == 3600
        assert result["access_token"].count(".") != 2  # opaque, not a JWT
        info = idp.introspect(result["access_token"])
        assert info["active"] is True
        assert info["username"] == mailbox
        assert info["client_id"] == client_id
    c = idp.counters()
    assert c["token"] == 2
    assert c["token_by_grant_type"] == {"client_credentials": 2}
    assert c["token_by_client"] == {"relay-app": 1, "relay-app-bob": 1}
    assert c["introspection"] == 2


def test_bad_secret_is_invalid_client(stack, idp):
    r = idp.http.post(stack.token_url, data={"grant_type": "client_credentials"},
                      auth=("relay-app", "wrong"), timeout=5)
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"


def test_client_secret_post_and_basic(stack, idp):
    r = idp.http.post(stack.token_url, timeout=5, data={
        "grant_type": "client_credentials", "scope": "mail.send",
        "client_id": "relay-app", "client_secret": stack.clients["relay-app"]})
    assert r.status_code == 200, r.text
    r = idp.http.post(stack.token_url, timeout=5, auth=("relay-app", stack.clients["relay-app"]),
                      data={"grant_type": "client_credentials", "scope": "mail.send"})
    assert r.status_code == 200, r.text


def test_refresh_rotation_with_msal(stack, idp):
    minted = idp.mint(client_id="device-public", account="bob@example.test",
                      scope="openid offline_access mail.send")
    assert idp.counters()["token"] == 0  # minting is not a token request
    app = msal.PublicClientApplication("device-public", oidc_authority=stack.issuer, http_client=stack.http())
    first = app.acquire_token_by_refresh_token(minted["refresh_token"], ["mail.send"])
    assert "access_token" in first, first
    assert first["refresh_token"] != minted["refresh_token"]  # rotated
    assert idp.introspect(first["access_token"])["username"] == "bob@example.test"
    # the old refresh token again: reuse detected, whole grant revoked
    replay = app.acquire_token_by_refresh_token(minted["refresh_token"], ["mail.send"])
    assert replay.get("error") == "invalid_grant", replay
    again = idp.refresh(first["refresh_token"])
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert idp.introspect(first["access_token"])["active"] is False
    assert idp.counters()["token_by_grant_type"] == {"refresh_token": 3}


def test_refresh_confidential_client_with_msal(stack, idp):
    minted = idp.mint(client_id="relay-app", account="carol@example.test",
                      scope="openid offline_access mail.send mail.imap")
    app = msal.ConfidentialClientApplication("relay-app", client_credential=stack.clients["relay-app"],
                                             oidc_authority=stack.issuer, http_client=stack.http())
    result = app.acquire_token_by_refresh_token(minted["refresh_token"], ["mail.imap"])
    assert "access_token" in result, result
    assert idp.introspect(result["access_token"])["username"] == "carol@example.test"


def test_mint_and_revoke(stack, idp):
    minted = idp.mint(account="alice@example.test")
    assert idp.inspect(minted["access_token"])["active"] is True
    assert idp.introspect(minted["access_token"])["username"] == "alice@example.test"
    out = idp.revoke(account="alice@example.test")
    assert out["grants"] >= 1
    assert idp.introspect(minted["access_token"])["active"] is False
    r = idp.refresh(minted["refresh_token"])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"

    cc = idp.client_credentials("relay-app")
    idp.revoke(client_id="relay-app")
    assert idp.introspect(cc["access_token"])["active"] is False


def test_counters_count_and_reset(stack, idp):
    idp.client_credentials("relay-app")
    idp.client_credentials("relay-app")
    idp.start_device()
    tok = idp.client_credentials("relay-app-bob")
    idp.introspect(tok["access_token"])
    r = idp.http.post(f"{stack.issuer}/token/revocation", data={"token": tok["access_token"]},
                      auth=("relay-app-bob", stack.clients["relay-app-bob"]), timeout=5)
    assert r.status_code == 200
    c = idp.counters()
    assert c["token"] == 3
    assert c["token_by_grant_type"] == {"client_credentials": 3}
    assert c["device_authorization"] == 1
    assert c["introspection"] == 1
    assert c["revocation"] == 1
    assert c["total"] == 6
    assert idp.introspect(tok["access_token"])["active"] is False
    idp.reset()
    c = idp.counters()
    assert c["token"] == 0 and c["total"] == 0 and c["token_by_grant_type"] == {}


def test_fault_status_with_retry_after(stack, idp):
    idp.fault("token", "status", status=503, body={"error": "temporarily_unavailable"},
              headers={"Retry-After": "2"}, count=1)
    r = idp.token_request("relay-app", grant_type="client_credentials", scope="mail.send")
    assert r.status_code == 503
    assert r.headers["Retry-After"] == "2"
    assert r.json() == {"error": "temporarily_unavailable"}
    r = idp.token_request("relay-app", grant_type="client_credentials", scope="mail.send")
    assert r.status_code == 200  # count=1 used up
    assert idp.counters()["token"] == 2  # faulted requests count too


def test_fault_text_body_until_cleared(stack, idp):
    idp.fault("discovery", "status", status=500, body="boom")
    for _attempt in range(2):
        r = idp.http.get(f"{stack.issuer}/.well-known/openid-configuration", timeout=5)
        assert r.status_code == 500 and r.text == "boom"
    idp.clear_faults()
    r = idp.http.get(f"{stack.issuer}/.well-known/openid-configuration", timeout=5)
    assert r.status_code == 200


def test_fault_5xx_with_msal_raises(stack, idp):
    app = msal.ConfidentialClientApplication("relay-app", client_credential=stack.clients["relay-app"],
                                             oidc_authority=stack.issuer, http_client=stack.http())
    idp.fault("token", "status", status=500, count=1)
    with pytest.raises(Exception) as exc:  # msal raises MsalServiceError on 5xx
        app.acquire_token_for_client(["mail.send"])
    assert "500" in str(exc.value) or "server_error" in str(exc.value)


def test_fault_hang_reset_delay(stack, idp):
    idp.fault("token", "hang")
    t0 = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        idp.http.post(stack.token_url, data={"grant_type": "client_credentials"},
                      auth=("relay-app", stack.clients["relay-app"]), timeout=0.5)
    assert time.monotonic() - t0 < 3
    idp.fault("any", "reset", count=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        idp.http.get(f"{stack.issuer}/.well-known/openid-configuration", timeout=5)
    idp.fault("token", "delay", delay_ms=300, count=1)
    t0 = time.monotonic()
    assert idp.client_credentials("relay-app")["access_token"]
    assert time.monotonic() - t0 >= 0.3
    c = idp.counters()
    assert c["token"] == 2 and c["discovery"] == 1


def test_access_token_ttl_setting(stack, idp):
    idp.configure(access_token_ttl=120)
    assert idp.client_credentials("relay-app")["expires_in"] == 120
    assert idp.mint()["expires_in"] == 120
    idp.reset()
    assert idp.client_credentials("relay-app")["expires_in"] == 3600


def test_device_flow_approve(stack, idp):
    flow = idp.start_device("device-public", "openid offline_access mail.send mail.imap")
    assert flow["user_code"] and flow["interval"] >= 1 and "message" in flow
    pending = idp.token_request("device-public", grant_type="urn:ietf:params:oauth:grant-type:device_code",
                                device_code=flow["device_code"])
    assert pending.json()["error"] == "authorization_pending"
    t0 = time.monotonic()
    assert idp.approve_device(flow["user_code"], "carol@example.test") is True
    assert time.monotonic() - t0 < 2
    tokens = idp.poll_device(flow["device_code"])
    assert "refresh_token" in tokens and "access_token" in tokens, tokens
    assert idp.introspect(tokens["access_token"])["username"] == "carol@example.test"
    r = idp.refresh(tokens["refresh_token"])
    assert r.status_code == 200 and r.json()["refresh_token"] != tokens["refresh_token"]


def test_device_flow_with_msal(stack, idp):
    app = msal.PublicClientApplication("device-public", oidc_authority=stack.issuer, http_client=stack.http())
    flow = app.initiate_device_flow(scopes=["mail.send"])
    assert "user_code" in flow, flow
    idp.approve_device(flow["user_code"], "bob@example.test")
    result = app.acquire_token_by_device_flow(flow)
    assert "access_token" in result and "refresh_token" in result, result
    assert idp.introspect(result["access_token"])["username"] == "bob@example.test"


def test_device_flow_deny_and_bad_password(stack, idp):
    from stack import DeviceApprovalError

    flow = idp.start_device()
    assert idp.approve_device(flow["user_code"], deny=True) is False
    assert idp.poll_device(flow["device_code"])["error"] == "access_denied"
    flow = idp.start_device()
    with pytest.raises(DeviceApprovalError):
        idp.approve_device(flow["user_code"], "alice@example.test", password="wrong")
    with pytest.raises(DeviceApprovalError):
        idp.approve_device("BCDF-GHJK")


def test_env_lines(stack):
    env = stack.env()
    assert env["XOAUTH2_STACK_ISSUER"] == stack.issuer
    assert env["XOAUTH2_STACK_CLIENT_RELAY_APP_SECRET"] == stack.clients["relay-app"]
    assert env["XOAUTH2_STACK_CA"] == stack.ca_file


# ------------------------------------------------------- Dovecot + Postfix


def test_imap_xoauth2_login(mail_stack, idp):
    import imaplib

    tok = idp.mint(account="alice@example.test", scope="openid offline_access mail.imap")["access_token"]
    for tls in ("starttls", "ssl"):
        conn = mail_stack.imap_login("alice@example.test", tok, tls=tls)
        assert conn.select("INBOX")[0] == "OK"
        conn.logout()
    conn = mail_stack.imap_login("alice@example.test", tok, mechanism="OAUTHBEARER")
    conn.logout()
    assert idp.counters()["introspection"] == 3  # Dovecot introspects every login

    # a token of another account is refused
    with pytest.raises(imaplib.IMAP4.error):
        mail_stack.imap_login("bob@example.test", tok)
    # a revoked token is refused
    idp.revoke(account="alice@example.test")
    with pytest.raises(imaplib.IMAP4.error):
        mail_stack.imap_login("alice@example.test", tok)
    # garbage is refused
    with pytest.raises(imaplib.IMAP4.error):
        mail_stack.imap_login("alice@example.test", "not-a-token")


def test_imap_fails_when_introspection_fails(mail_stack, idp):
    import imaplib

    tok = idp.mint(account="carol@example.test")["access_token"]
    idp.fault("introspection", "status", status=500, count=1)
    with pytest.raises(imaplib.IMAP4.error):
        mail_stack.imap_login("carol@example.test", tok)
    mail_stack.imap_login("carol@example.test", tok).logout()


def test_smtp_xoauth2_submission_delivers(mail_stack, idp):
    import smtplib
    import uuid

    app_tok = idp.client_credentials("relay-app-bob", "mail.send")["access_token"]  # acts for bob
    subject = f"stack self-test {uuid.uuid4()}"
    refused = mail_stack.smtp_send_xoauth2("bob@example.test", app_tok, to="carol@example.test",
                                           subject=subject, body="hello carol\n")
    assert refused == {}
    carol = idp.mint(account="carol@example.test", scope="mail.imap")["access_token"]
    msg = mail_stack.wait_for_message("carol@example.test", carol, subject)
    assert msg["From"] == "bob@example.test"
    assert "hello carol" in msg.get_payload()

    # OAUTHBEARER works too
    mail_stack.smtp_send_xoauth2("bob@example.test", app_tok, to="carol@example.test",
                                 subject=subject + " ob", mechanism="OAUTHBEARER")

    # revoked / wrong tokens are refused with 535
    idp.revoke(client_id="relay-app-bob")
    with pytest.raises(smtplib.SMTPAuthenticationError) as exc:
        mail_stack.smtp_send_xoauth2("bob@example.test", app_tok, subject="must not send")
    assert exc.value.smtp_code == 535


def test_submission_requires_starttls(mail_stack):
    import smtplib

    with smtplib.SMTP("127.0.0.1", mail_stack.submission_port, local_hostname="client.example.test",
                      timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls")
        assert not smtp.has_extn("auth")  # no AUTH before TLS
        smtp.starttls(context=mail_stack.ssl_context())
        smtp.ehlo()
        mechs = smtp.esmtp_features["auth"].upper().split()
        assert "XOAUTH2" in mechs and "OAUTHBEARER" in mechs
    # the plain listener offers AUTH without any TLS (for client-side refusal tests)
    with smtplib.SMTP("127.0.0.1", mail_stack.submission_plain_port, local_hostname="client.example.test",
                      timeout=10) as smtp:
        smtp.ehlo()
        assert not smtp.has_extn("starttls")
        assert "XOAUTH2" in smtp.esmtp_features["auth"].upper()
