# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Prove an access token at a real IMAP or SMTP server with SASL XOAUTH2.

Shared by the ``oauth_mail_check`` module and (later) the relay helper.
Rules: a token is only ever sent on an encrypted connection (implicit TLS,
or after a successful STARTTLS); a refused token's error challenge is
answered with an empty line so the server's final reply is read; results
and errors carry the server's words (decoded) and a hint, never the token.
"""

from __future__ import annotations

import base64
import imaplib
import json
import socket
import ssl
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Callable, Dict, List, Optional

from ._dependencies import require
from ._errors import CONFIGURATION, TEMPORARY
from ._xoauth2 import decode_error_challenge, xoauth2_initial_response

AUTHENTICATION = "authentication"
MECHANISM = "XOAUTH2"
DEFAULT_PORTS = {("imap", "tls"): 993, ("imap", "starttls"): 143, ("smtp", "tls"): 465, ("smtp", "starttls"): 587}


@dataclass
class LoginResult:
    protocol: str
    host: str
    port: int
    security: str
    username: str
    authenticated: bool = False
    mechanism: str = MECHANISM
    capabilities: List[str] = field(default_factory=list)
    tls_version: Optional[str] = None
    server_reply: Optional[str] = None
    server_status: Optional[Dict[str, Any]] = None
    hint: Optional[str] = None
    error_category: Optional[str] = None
    message: Optional[str] = None
    mailbox: Optional[Dict[str, Any]] = None
    test_message_id: Optional[str] = None
    token_sent: bool = False
    elapsed: Optional[float] = None

    def fail(self, category: str, message: str, hint: Optional[str] = None) -> "LoginResult":
        self.authenticated = False
        self.error_category = category
        self.message = message
        if hint:
            self.hint = hint
        return self

    def to_dict(self) -> Dict[str, Any]:
        data = {name: getattr(self, name) for name in (
            "protocol", "host", "port", "security", "username", "authenticated", "mechanism", "capabilities",
            "tls_version", "server_reply", "server_status", "hint", "mailbox", "test_message_id", "token_sent",
            "elapsed")}
        if self.error_category:
            data["error_category"] = self.error_category
        return data


def ssl_context(validate_certs: bool, ca_path: Optional[str]) -> ssl.SSLContext:
    if not validate_certs:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=ca_path) if ca_path else ssl.create_default_context()


# -- hints ----------------------------------------------------------------------------

CA_HINT = "Set ca_path to the CA of the mail server (or fix the certificate)."
REFUSED_HINT = (
    "The server refused the token: it is expired or revoked, was issued for another mailbox than username, or lacks "
    "the scope for this protocol (Microsoft: SMTP.Send / IMAP.AccessAsUser.All, or SMTP.SendAsApp / "
    "IMAP.AccessAsApp for app-only; Google: https://mail.google.com/). Renew it with oauth_mail_token "
    "(state=refreshed) and check username.")
SMTP_HINTS = (
    ("5.7.139", "SMTP AUTH is disabled for this mailbox or tenant (Microsoft): enable Authenticated SMTP for the "
                "mailbox (Set-CASMailbox -SmtpClientAuthenticationDisabled $false) and in the tenant."),
    ("5.5.127", "The token expires too soon for the server (Microsoft refuses tokens about 10 minutes before expiry): "
                "keep min_validity at 600 or more."),
    ("4.2.0", "Mailbox logon failure (Microsoft app-only): create the Exchange service principal for the app and grant "
              "it permission on the mailbox (Add-MailboxPermission), or use RBAC for Applications."),
)


def smtp_hint(code: Optional[int], reply: str, status: Optional[Dict[str, Any]]) -> str:
    for marker, hint in SMTP_HINTS:
        if marker in reply:
            return hint
    if code is not None and 400 <= code < 500:
        return "The server answered with a temporary failure: try again later."
    return status_hint(status) or REFUSED_HINT


def status_hint(status: Optional[Dict[str, Any]]) -> Optional[str]:
    """Google-style base64 JSON status of a refused token: {"status": "400", "schemes": ..., "scope": ...}."""
    if not status:
        return None
    scope = status.get("scope")
    if str(status.get("status")) in ("400", "401", "invalid_token") and scope:
        return "%s The server expects the scope %s." % (REFUSED_HINT, scope)
    return None


def _text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(_text(item) for item in value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _scrub(text: str, token: str, username: str = "") -> str:
    """Belt and braces: a server that echoes what it got must not make us print the token."""
    for secret in (token, xoauth2_initial_response(username, token)):
        if secret and secret in text:
            text = text.replace(secret, "********")
    return text


def _json_status(challenge: bytes) -> Optional[Dict[str, Any]]:
    """imaplib hands the challenge over already base64-decoded."""
    try:
        data = json.loads(challenge.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return decode_error_challenge(challenge)
    return data if isinstance(data, dict) else None


# -- IMAP -----------------------------------------------------------------------------

class _Xoauth2Answer:
    """imaplib authobject: the initial response, then an empty line to an error challenge."""

    def __init__(self, username: str, token: str) -> None:
        # imaplib base64-encodes what the authobject returns: hand it the raw SASL string
        self.initial = base64.b64decode(xoauth2_initial_response(username, token))
        self.challenges: List[bytes] = []
        self.sent = False

    def __call__(self, challenge: bytes) -> bytes:
        if not self.sent:
            self.sent = True
            return self.initial
        self.challenges.append(challenge or b"")
        return b""


def _imap_secure(client, result: LoginResult, context: ssl.SSLContext) -> Optional[LoginResult]:
    """STARTTLS when asked, then prove the connection is encrypted and offers XOAUTH2; a failure, or None."""
    where = "%s:%d" % (result.host, result.port)
    if result.security == "starttls":
        if not client.has_capability("STARTTLS"):
            return result.fail(CONFIGURATION, "%s does not offer STARTTLS: the token was not sent over an unencrypted "
                               "connection." % where, "Use the server's TLS port (security=tls) or enable STARTTLS.")
        try:
            client.starttls(context)
        except ssl.SSLError as exc:
            return result.fail(CONFIGURATION, "STARTTLS with %s failed: %s" % (where, exc), CA_HINT)
    sock = client._imap.sock  # the connection the token is about to go over
    if not isinstance(sock, ssl.SSLSocket):
        return result.fail(CONFIGURATION, "The connection to %s is not encrypted: the token was not sent." % where)
    result.tls_version = sock.version()
    result.capabilities = [_text(c) for c in client.capabilities()]
    if "AUTH=%s" % MECHANISM not in [c.upper() for c in result.capabilities]:
        return result.fail(CONFIGURATION, "%s does not offer AUTH=XOAUTH2 (capabilities: %s)."
                           % (where, " ".join(result.capabilities)))
    return None


def _imap_authenticate(client, result: LoginResult, token: str) -> Optional[LoginResult]:
    answer = _Xoauth2Answer(result.username, token)
    result.token_sent = True
    try:
        typ, data = client._imap.authenticate(MECHANISM, answer)
    except imaplib.IMAP4.error as exc:
        result.server_reply = _scrub(_text(exc.args[0] if exc.args else exc), token, result.username)
        if answer.challenges:
            result.server_status = _json_status(answer.challenges[0])
        return result.fail(AUTHENTICATION, "%s refused the token for %s: %s"
                           % (result.host, result.username, result.server_reply),
                           status_hint(result.server_status) or REFUSED_HINT)
    result.server_reply = _scrub(_text(data), token, result.username)
    result.authenticated = typ == "OK"
    return None


def _imap_select(client, result: LoginResult, select: str) -> LoginResult:
    """Some servers accept a token at login and refuse it for the mailbox: one more command proves it."""
    try:
        selected = client.select_folder(select, readonly=True)
    except imaplib.IMAP4.error as exc:
        return result.fail(AUTHENTICATION, "Login succeeded but selecting %s failed: %s" % (select, _text(exc)),
                           "The token may be for another mailbox than username.")
    result.mailbox = {"name": select, "exists": int(selected.get(b"EXISTS", 0))}
    result.capabilities = [_text(c) for c in client.capabilities()]
    return result


def _close_quietly(polite: Callable[[], Any], abrupt: Callable[[], Any]) -> None:
    """Say goodbye, else drop the connection: closing is best effort and never hides the result."""
    try:
        polite()
    except Exception:
        try:
            abrupt()
        except Exception:
            pass


def _close_imap(client) -> None:
    _close_quietly(client.logout, client.shutdown)


def check_imap(host: str, port: int, security: str, username: str, token: str, context: ssl.SSLContext,
               timeout: float, select: str = "INBOX") -> LoginResult:
    imapclient = require("imapclient")
    result = LoginResult("imap", host, port, security, username)
    try:
        client = imapclient.IMAPClient(host, port=port, ssl=security == "tls", ssl_context=context, timeout=timeout)
    except ssl.SSLError as exc:
        return result.fail(CONFIGURATION, "TLS with %s:%d failed: %s" % (host, port, exc), CA_HINT)
    except (OSError, imaplib.IMAP4.error) as exc:
        return result.fail(TEMPORARY, "Cannot connect to %s:%d: %s" % (host, port, exc))
    try:
        return (_imap_secure(client, result, context) or _imap_authenticate(client, result, token)
                or _imap_select(client, result, select))
    except (OSError, imaplib.IMAP4.abort) as exc:
        return result.fail(TEMPORARY, "The connection to %s:%d failed: %s" % (host, port, _scrub(str(exc), token)))
    finally:
        _close_imap(client)


# -- SMTP -----------------------------------------------------------------------------

def _features(smtp) -> List[str]:
    return ["%s %s" % (name.upper(), value.strip()) if value.strip() else name.upper()
            for name, value in smtp.esmtp_features.items()]


def test_message(sender: str, recipient: str, host: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = "xoauth2.mail test message"
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=(sender.rpartition("@")[2] or None))
    message.set_content("This message proves that %s can send through %s with an OAuth2 token.\n" % (sender, host))
    return message


def _smtp_connect(result: LoginResult, context: ssl.SSLContext, timeout: float, local_hostname: str):
    import smtplib

    if result.security == "tls":
        return smtplib.SMTP_SSL(result.host, result.port, local_hostname=local_hostname, timeout=timeout,
                                context=context)
    return smtplib.SMTP(result.host, result.port, local_hostname=local_hostname, timeout=timeout)


def _smtp_secure(smtp, result: LoginResult, context: ssl.SSLContext) -> Optional[LoginResult]:
    """STARTTLS when asked, then prove the connection is encrypted and offers XOAUTH2; a failure, or None."""
    where = "%s:%d" % (result.host, result.port)
    smtp.ehlo()
    if result.security == "starttls":
        if not smtp.has_extn("starttls"):
            result.capabilities = _features(smtp)
            return result.fail(CONFIGURATION, "%s does not offer STARTTLS: the token was not sent over an unencrypted "
                               "connection." % where, "Use the server's TLS port (security=tls) or enable STARTTLS.")
        try:
            smtp.starttls(context=context)
        except ssl.SSLError as exc:
            return result.fail(CONFIGURATION, "STARTTLS with %s failed: %s" % (where, exc), CA_HINT)
        smtp.ehlo()
    if not isinstance(smtp.sock, ssl.SSLSocket):
        return result.fail(CONFIGURATION, "The connection to %s is not encrypted: the token was not sent." % where)
    result.tls_version = smtp.sock.version()
    result.capabilities = _features(smtp)
    mechanisms = (smtp.esmtp_features.get("auth") or "").upper().split()
    if MECHANISM not in mechanisms:
        return result.fail(CONFIGURATION, "%s does not offer AUTH XOAUTH2 (AUTH %s)."
                           % (where, " ".join(mechanisms) or "not offered"))
    return None


def _smtp_authenticate(smtp, result: LoginResult, token: str) -> Optional[LoginResult]:
    result.token_sent = True
    code, reply = smtp.docmd("AUTH", "%s %s" % (MECHANISM, xoauth2_initial_response(result.username, token)))
    if code == 334:
        # The error challenge (base64 JSON); an empty line gets the final reply.
        result.server_status = decode_error_challenge(reply) or None
        code, reply = smtp.docmd("")
    result.server_reply = _scrub("%d %s" % (code, _text(reply)), token, result.username)
    if code != 235:
        category = TEMPORARY if 400 <= code < 500 and "4.2.0" not in result.server_reply else AUTHENTICATION
        return result.fail(category, "%s refused the token for %s: %s"
                           % (result.host, result.username, result.server_reply),
                           smtp_hint(code, result.server_reply, result.server_status))
    result.authenticated = True
    return None


def _smtp_send_test(smtp, result: LoginResult, token: str, send_test_to: Optional[str],
                    send_test_from: Optional[str]) -> LoginResult:
    import smtplib

    if not send_test_to:
        return result
    sender = send_test_from or result.username
    message = test_message(sender, send_test_to, result.host)
    try:
        smtp.send_message(message, from_addr=sender, to_addrs=[send_test_to])
    except smtplib.SMTPException as exc:
        return result.fail(AUTHENTICATION, "Authenticated, but the test message was refused: %s"
                           % _scrub(_text(getattr(exc, "smtp_error", exc) or exc), token),
                           "The mailbox may not send as %s, or the recipient is not accepted." % sender)
    result.test_message_id = message["Message-ID"]
    return result


def _close_smtp(smtp) -> None:
    if smtp is not None:
        _close_quietly(smtp.quit, smtp.close)


def check_smtp(host: str, port: int, security: str, username: str, token: str, context: ssl.SSLContext,
               timeout: float, send_test_to: Optional[str] = None, send_test_from: Optional[str] = None,
               local_hostname: Optional[str] = None) -> LoginResult:
    import smtplib

    result = LoginResult("smtp", host, port, security, username)
    smtp = None
    try:
        try:
            smtp = _smtp_connect(result, context, timeout, local_hostname or socket.gethostname() or "localhost")
        except ssl.SSLError as exc:
            return result.fail(CONFIGURATION, "TLS with %s:%d failed: %s" % (host, port, exc), CA_HINT)
        return (_smtp_secure(smtp, result, context) or _smtp_authenticate(smtp, result, token)
                or _smtp_send_test(smtp, result, token, send_test_to, send_test_from))
    except (OSError, smtplib.SMTPException) as exc:
        return result.fail(TEMPORARY, "The SMTP exchange with %s:%d failed: %s" % (host, port, _scrub(str(exc), token)))
    finally:
        _close_smtp(smtp)


def check_login(protocol: str, host: str, port: Optional[int], security: str, username: str, token: str,
                validate_certs: bool = True, ca_path: Optional[str] = None, timeout: float = 30,
                send_test_to: Optional[str] = None, send_test_from: Optional[str] = None) -> LoginResult:
    port = int(port or DEFAULT_PORTS[(protocol, security)])
    context = ssl_context(validate_certs, ca_path)
    started = time.monotonic()
    if protocol == "imap":
        result = check_imap(host, port, security, username, token, context, timeout)
    else:
        result = check_smtp(host, port, security, username, token, context, timeout, send_test_to, send_test_from)
    result.elapsed = round(time.monotonic() - started, 3)
    return result
