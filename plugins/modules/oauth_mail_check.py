#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: oauth_mail_check
short_description: Prove that an OAuth2 token logs in to an IMAP or SMTP server with XOAUTH2
version_added: 1.0.0
description:
  - Logs in to an IMAP or SMTP server with SASL XOAUTH2, from the managed host, to prove that a token really works
    where it will be used.
  - IMAP (through C(imapclient)) logs in and then selects the C(INBOX) read-only, because some servers accept a token
    for the wrong user at login and refuse it only for the mailbox.
  - SMTP (through C(smtplib)) sends EHLO, STARTTLS (or uses implicit TLS) and C(AUTH XOAUTH2). When the server refuses
    the token with an error challenge (a base64 JSON status), the module answers it with an empty line, reads the final
    reply, and returns both, decoded, with a hint.
  - A token is never sent over a connection that is not encrypted; a server that offers no STARTTLS is refused.
  - The token comes from a token file (renewed through the same core as M(xoauth2.mail.oauth_mail_token) when it
    expires within O(min_validity)) or is given as O(access_token).
author:
  - xoauth2.mail contributors (@xoauth2)
extends_documentation_fragment:
  - xoauth2.mail.attributes
  - xoauth2.mail.token
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Logs in (that changes nothing) but sends no test message and does not renew the token file; an expiring
        stored token is used as it is.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
options:
  protocol:
    description:
      - The protocol to log in with.
    type: str
    choices: [imap, smtp]
    required: true
  host:
    description:
      - The mail server.
      - Default, the provider's own server for O(protocol). With O(provider=google) C(imap.gmail.com) (993, V(tls))
        and C(smtp.gmail.com) (587, V(starttls)); with O(provider=microsoft) C(outlook.office365.com) (993, V(tls))
        and C(smtp.office365.com) (587, V(starttls)). The provider is O(provider), else the one stored in
        O(token_file). Required with O(provider=oidc).
    type: str
  port:
    description:
      - The server port. Default 993 (IMAP, V(tls)), 143 (IMAP, V(starttls)), 465 (SMTP, V(tls)), 587 (SMTP,
        V(starttls)); the provider's own port when O(host) is its default.
    type: int
  security:
    description:
      - V(tls), implicit TLS from the first byte. V(starttls), a plain connection upgraded with STARTTLS before
        anything secret is sent; a server without STARTTLS is refused.
      - Default V(tls) for IMAP and V(starttls) for SMTP.
    type: str
    choices: [tls, starttls]
  username:
    description:
      - The mailbox to log in as (the C(user=) of XOAUTH2). Default, the username stored in O(token_file).
    type: str
  token_file:
    description:
      - A token file written by M(xoauth2.mail.oauth_mail_token), on the managed host. Needs O(encryption_key) or
        O(encryption_key_file).
      - Mutually exclusive with O(access_token).
    type: path
  access_token:
    description:
      - An access token to check, instead of O(token_file).
    type: str
  send_test_to:
    description:
      - SMTP only. After a successful login, send a small test message to this address. Not in check mode.
    type: str
  send_test_from:
    description:
      - SMTP only. Sender of the test message. Default O(username).
    type: str
  validate_certs:
    description:
      - Verify the TLS certificates of the mail server and of the identity provider.
  ca_path:
    description:
      - PEM file of CA certificates to trust for the mail server and the identity provider instead of the default
        trust store.
  scopes:
    description:
      - Only used when O(token_file) is renewed; the token file's stored scopes are used when not given.
  timeout:
    description:
      - Seconds for each network operation with the mail server, and for the whole exchange with the identity provider
        when the token is renewed.
notes:
  - Never returns the token. The options about the identity provider (O(provider), O(client_id), ...) are only used
    to renew O(token_file); the credentials sealed in the file are enough for that.
requirements:
  - imapclient (for O(protocol=imap))
seealso:
  - module: xoauth2.mail.oauth_mail_token
  - plugin: xoauth2.mail.oauth_token
    plugin_type: lookup
"""

EXAMPLES = r"""
- name: Check that the relay's token can send through Microsoft 365
  xoauth2.mail.oauth_mail_check:
    protocol: smtp
    host: smtp.office365.com
    port: 587
    token_file: /var/lib/xoauth2-relay/alerts.token
    encryption_key_file: /etc/xoauth2/token.key

- name: Check an IMAP login and send a test message through the submission port
  block:
    - name: IMAP
      xoauth2.mail.oauth_mail_check:
        protocol: imap
        host: outlook.office365.com
        token_file: /var/lib/xoauth2-relay/scanner.token
        encryption_key_file: /etc/xoauth2/token.key
    - name: SMTP with a test message
      xoauth2.mail.oauth_mail_check:
        protocol: smtp
        host: smtp.office365.com
        token_file: /var/lib/xoauth2-relay/scanner.token
        encryption_key_file: /etc/xoauth2/token.key
        send_test_to: postmaster@contoso.com

- name: Check a Gmail token file at Gmail's own IMAP server (imap.gmail.com:993, from the stored provider google)
  xoauth2.mail.oauth_mail_check:
    protocol: imap
    token_file: /var/lib/xoauth2-relay/reports.token
    encryption_key_file: /etc/xoauth2/token.key

- name: Check a token obtained elsewhere, and report instead of failing
  xoauth2.mail.oauth_mail_check:
    protocol: imap
    host: imap.gmail.com
    username: someone@gmail.com
    access_token: "{{ token }}"
  register: login
  ignore_errors: true
"""

RETURN = r"""
authenticated:
  description: Whether the server accepted the token (and, for IMAP, the mailbox could be selected).
  returned: always
  type: bool
  sample: true
mechanism:
  description: The SASL mechanism used.
  returned: always
  type: str
  sample: XOAUTH2
username:
  description: The mailbox the login was tried for.
  returned: always
  type: str
  sample: alerts@example.com
protocol:
  description: V(imap) or V(smtp).
  returned: always
  type: str
host:
  description: The server.
  returned: always
  type: str
port:
  description: The port used.
  returned: always
  type: int
  sample: 587
security:
  description: V(tls) or V(starttls).
  returned: always
  type: str
capabilities:
  description: The server's capabilities (IMAP) or EHLO keywords (SMTP) on the encrypted connection.
  returned: when the server was reached
  type: list
  elements: str
  sample: [IMAP4rev1, AUTH=XOAUTH2, AUTH=OAUTHBEARER]
tls_version:
  description: The TLS version of the connection the token went over.
  returned: when TLS was established
  type: str
  sample: TLSv1.3
server_reply:
  description: The server's reply to the authentication, decoded.
  returned: when the token was sent
  type: str
  sample: '535 5.7.8 Error: authentication failed'
server_status:
  description: The decoded base64 JSON status of the server's error challenge (Gmail, Dovecot), if it sent one.
  returned: when the server refused the token with an error challenge
  type: dict
  sample: {"status": "invalid_token", "schemes": "bearer", "scope": "mail.send"}
hint:
  description: What the failure most likely means and how to fix it.
  returned: on failure
  type: str
mailbox:
  description: IMAP only. The selected mailbox and its number of messages.
  returned: when an IMAP login succeeded
  type: dict
  sample: {"name": "INBOX", "exists": 3}
test_message_id:
  description: The Message-ID of the test message sent with O(send_test_to).
  returned: when a test message was sent
  type: str
token_sent:
  description: Whether the token was sent to the server (it never is over an unencrypted connection).
  returned: always
  type: bool
token_action:
  description: What was done to O(token_file) before the check (V(none), V(refreshed), V(acquired)).
  returned: always
  type: str
  sample: none
elapsed:
  description: Seconds the check took.
  returned: always
  type: float
error_category:
  description:
    - On failure, V(authentication) (the server refused the token), V(temporary) (network, 4xx replies), or
      V(configuration) (TLS, no STARTTLS, no XOAUTH2), or the token file's category (V(storage), V(reauth_required),
      ...).
  returned: failure
  type: str
"""

from ansible_collections.xoauth2.mail.plugins.module_utils._ansible_module import OAuthMailModule
from ansible_collections.xoauth2.mail.plugins.module_utils._dependencies import require
from ansible_collections.xoauth2.mail.plugins.module_utils._errors import ConfigurationError
from ansible_collections.xoauth2.mail.plugins.module_utils._mail_login import check_login
from ansible_collections.xoauth2.mail.plugins.module_utils._provider_endpoints import resolve_server


def argument_spec():
    return OAuthMailModule.generate_argspec(
        # only renewals of an existing file: its stored flow is used
        without=("flow",),
        protocol=dict(type="str", required=True, choices=["imap", "smtp"]),
        host=dict(type="str"),
        port=dict(type="int"),
        security=dict(type="str", choices=["tls", "starttls"]),
        username=dict(type="str"),
        token_file=dict(type="path"),
        access_token=dict(type="str", no_log=True),
        send_test_to=dict(type="str"),
        send_test_from=dict(type="str"),
    )


def token_from_file(module):
    """The access token (renewed through the core if needed) and the username stored with it."""
    from ansible_collections.xoauth2.mail.plugins.module_utils._fresh_token import create_provider, fresh_record
    from ansible_collections.xoauth2.mail.plugins.module_utils._session import TokenSession
    from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile

    key, previous = module.token_keys()
    # A check reads a file during a key rotation too; it never re-seals it (that is oauth_mail_token's change).
    token_file = TokenFile(module.params["token_file"], key, previous_keys=previous)
    settings = module.token_settings()
    settings.username = None  # username here only chooses the login, not which token
    session = TokenSession(settings, token_file, provider_factory=create_provider, rekey=False)
    outcome = fresh_record(session, module.params["min_validity"], check_mode=module.check_mode, option="token_file")
    for warning in outcome.warnings:
        module.warn(warning)
    record = outcome.record
    return record.access_token, record.meta.get("username"), outcome.action, record.meta.get("provider")


def login_token(module):
    """(token, username, what was done to the token file, server); a core error is raised."""
    params = module.params
    token_action = "none"
    if params["token_file"]:
        token, stored_username, token_action, stored_provider = token_from_file(module)
    else:
        token, stored_username, stored_provider = params["access_token"], None, None
    # without host: the provider's own server (imap.gmail.com, smtp.office365.com...)
    server = resolve_server(params["protocol"], params["host"], params["port"], params["security"],
                            params["provider"] or stored_provider)
    username = params["username"] or stored_username
    if not username:
        raise ConfigurationError(
            "username is required: the token file names no mailbox (or access_token was given).",
            option="username")
    if params["protocol"] == "imap":
        require("imapclient")
    return token, username, token_action, server


def main():
    module = OAuthMailModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[("token_file", "access_token"), ("encryption_key", "encryption_key_file")],
        required_one_of=[("token_file", "access_token")],
    )
    params = module.params
    protocol = params["protocol"]
    if protocol != "smtp" and (params["send_test_to"] or params["send_test_from"]):
        module.fail_json(msg="send_test_to and send_test_from are for protocol=smtp only.",
                         error_category="configuration")
    with module.reporting_core_errors(authenticated=False, token_sent=False):
        token, username, token_action, server = login_token(module)

    result = check_login(
        protocol, server.host, server.port, server.security, username, token,
        validate_certs=params["validate_certs"], ca_path=params["ca_path"], timeout=params["timeout"],
        send_test_to=None if module.check_mode else params["send_test_to"], send_test_from=params["send_test_from"])
    data = result.to_dict()
    data["token_action"] = token_action
    # Renewing the token file is the only change this module can make.
    data["changed"] = token_action != "none" and not module.check_mode
    if not result.authenticated:
        module.fail_json(msg=result.message or "Login failed.", **data)
    module.exit_json(**data)


if __name__ == "__main__":
    main()
