#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: oauth_mail_token
short_description: Keep a valid OAuth2 token for SMTP/IMAP in an encrypted file
version_added: 1.0.0
description:
  - Makes sure an encrypted token file on the managed host holds an OAuth2 access token (and, for delegated tokens,
    the refresh token) that stays valid for at least O(min_validity) seconds.
  - Works with Microsoft 365 (through C(msal)), Google (Gmail users and Workspace service accounts) and any standard
    OAuth2/OpenID Connect server.
  - A valid token gives C(changed=false) without any network request. An expiring token is refreshed once, even when
    many processes try at the same moment (a lock beside the file), and a rotated refresh token is written before the
    module returns.
  - The file is encrypted with AES-256-GCM; its non-secret metadata stays readable but is authenticated. Writes are
    atomic, and the previous version is kept as C(<path>.bak). A C(<path>.status) file records the last renewal
    outcome for monitoring.
author:
  - xoauth2.mail contributors (@xoauth2)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.files
  - xoauth2.mail.attributes
  - xoauth2.mail.token
  - xoauth2.mail.notify
notes:
  - This module has an action plugin of the same name, which drives the device code sign-in and the browser
    sign-in (O(flow=auth_code)) from the controller.
  - With O(flow=auth_code), the authorization URL is made and the PKCE verifier is kept on the managed host, in
    C(<path>.signin), encrypted with the token's key, and removed when the sign-in ends. The controller receives
    only the URL, and sends back only the redirected answer (a single-use code, useless without the verifier).
    The code is redeemed and the tokens are stored on the managed host.
  - The device code of a pending sign-in is kept on the managed host in C(<path>.device), encrypted with the token's
    key, and removed when the sign-in ends; only the user code and the verification URL reach the controller.
  - The token file and the files beside it (C(.bak), C(.status), C(.lock), C(.device), temporary files) are never
    opened through a symbolic link. A link, a FIFO, a file with a second hard link or a file owned by another user
    where one of them should be is refused (C(error_category=storage)) and left as it is. Owner and mode are given
    to a new file through its descriptor, and to an existing one only once it passed these checks (see below).
  - Running as root, the module refuses a token folder that its group or others can write, sticky bit or not, because
    such a user could plant links there. The error names O(path).
  - Running as root with a token folder owned by another user (the C(xoauth2.mail.relay_helper) role makes the folder
    owned by the service user), every file operation inside that folder is done as that user (its effective uid, gid
    and groups; the real uid stays root). The files are then created owned by that user without any chown. O(owner)
    must be that user or be left out, and O(group) one of its groups. Files outside the folder (the key file, a client
    certificate, CA files) are read as root.
  - The file options (O(mode), O(owner), O(group), the SELinux options and O(attributes)) apply to the token file
    and each of its side files. New files are made with O(mode) and O(owner)/O(group) through their descriptor; on
    existing files the options are set by path, only after the file passed the checks above (a regular file, one
    link, a trusted owner), acting as the folder's owner when it is another user, and the name must still lead to
    that file afterwards. In check mode they are not compared.
  - Notices (O(notify_command), O(notify_webhook_url)) are sent once per state change, whichever process records
    it (this module, the lookup, the relay helper); the decision is made under the token's lock and kept in
    C(<path>.status). A run that keeps a valid token also sends a notice left pending by an earlier failed attempt
    or by a process without notice settings.
  - During a key rotation (O(previous_encryption_keys)) the C(.device) file is not re-sealed, since it lives for
    one sign-in only and the next sign-in writes it with the current key. C(<path>.bak) is re-sealed with the
    token.
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
    details: The action plugin shows the device code prompt or the browser sign-in address on the controller, and
      receives the browser's redirect there; the tokens are made and kept on the managed host.
  check_mode:
    support: full
    details: Never writes and never contacts the identity provider; reports what would change.
  diff_mode:
    support: full
    details: Shows the non-secret metadata of the token before and after.
  platform:
    support: full
    platforms: posix
options:
  path:
    description:
      - Path of the token file. Its folder must exist.
      - Running as root, the folder must not be writable by its group or others.
    type: path
    required: true
  state:
    description:
      - V(present) keeps a token valid for O(min_validity) seconds, renewing it only when needed.
      - V(refreshed) always renews the token.
      - V(absent) removes the token file and its side files (C(.bak), C(.status), C(.lock), C(.device), C(.signin)), and
        temporary files left by interrupted writes. A link among them is removed, never followed.
    type: str
    choices: [present, refreshed, absent]
    default: present
  flow:
    description:
      - How a token is obtained.
      - V(client_credentials) is app-only (no person), with the application's own identity from O(client_secret) or
        O(client_certificate). Microsoft needs the Exchange permission C(SMTP.SendAsApp) and a mailbox permission.
      - V(refresh_token) seeds a delegated token from a refresh token obtained elsewhere (O(refresh_token)); later runs
        refresh it and save the rotated refresh token.
      - V(device_code) signs a person in with the device authorization grant (RFC 8628), for delegated tokens that
        need an interactive sign-in (for example Microsoft C(SMTP.Send) with multi-factor authentication). The sign-in
        is started on the managed host, the action plugin shows the verification URL and the user code in the play's
        output, and the module waits until the person approves, denies, the code expires or O(device_code_timeout)
        passes. Later runs refresh the token silently with the stored refresh token; a new sign-in is asked for only
        when there is no usable token. Microsoft needs a public client ("Allow public client flows") and no
        O(client_secret); include C(offline_access) in O(scopes) of V(oidc) servers to get a refresh token.
      - V(service_account) is a Google Workspace service account with domain-wide delegation (O(provider=google)),
        with the JWT bearer grant (RFC 7523), an assertion signed (RS256) with the key in O(service_account_key_file) or
        O(service_account_key) on behalf of the mailbox O(username). There is no refresh token, so every renewal signs a
        new assertion. The key is sealed in the token file, so the lookup and the relay helper renew without it, and
        it is used only for the same service account.
      - V(auth_code) signs a person in with a browser, with the authorization code grant with PKCE (RFC 7636, S256) and a
        loopback redirect (RFC 8252), for every provider (Google's mail scope needs it, since Google's device flow
        refuses that scope). The action plugin shows the sign-in address (and opens a browser when the controller
        has a display), receives the redirect on O(auth_code_redirect_uri) on the controller (or reads the address
        a person pastes, O(auth_code_mode=paste)), checks C(state), and the managed host redeems the code. Later
        runs refresh the token silently; a new sign-in is asked for only when there is no usable token. Register
        the loopback address as a redirect URI of the application (a desktop / public client or, for V(google), a
        "Desktop app" client with its O(client_secret)).
      - Default, V(refresh_token) when O(refresh_token) is given, else V(service_account) when a service account key
        is given, else the flow of the existing token file, else V(client_credentials) when a client credential is
        given.
    type: str
    choices: [client_credentials, refresh_token, device_code, service_account, auth_code]
  device_code_timeout:
    description:
      - With O(flow=device_code), how many seconds to wait for the person to complete the sign-in. The wait also
        ends when the device code expires at the identity provider.
    type: int
    default: 900
  device_code_step:
    description:
      - Internal, set by the action plugin of this module to drive a device sign-in in two steps; do not set it.
      - V(start) starts a sign-in when one is needed (or keeps or refreshes a usable token), V(poll) waits for the
        sign-in that was started.
    type: str
    choices: [start, poll]
  auth_code_mode:
    description:
      - With O(flow=auth_code), how the controller receives the browser's answer.
      - V(listener) waits for the redirect on O(auth_code_redirect_uri) on the controller (the browser must run on
        the controller, or reach that port through an SSH tunnel).
      - V(paste) listens nowhere; the person signs in with a browser anywhere, and pastes the address the browser
        was sent to (the page itself may fail to load) at the prompt in the controller's terminal. It needs an
        interactive C(ansible-playbook); without a terminal (AWX, Automation Platform) it fails with a clear error.
    type: str
    choices: [listener, paste]
    default: listener
  auth_code_redirect_uri:
    description:
      - With O(flow=auth_code), the loopback redirect address the sign-in comes back to, C(http://127.0.0.1),
        C(http://[::1]) or C(http://localhost), with an optional port and path and no query.
      - Without a port, a free (ephemeral) port is chosen for each sign-in; give a port when the application
        registration or a firewall needs a fixed one.
      - Any other address (another host, https, a private network address) is refused before any request, with
        an error naming this option.
    type: str
    default: http://127.0.0.1/
  auth_code_timeout:
    description:
      - With O(flow=auth_code), how many seconds to wait for the browser's answer.
    type: int
    default: 300
  auth_code_step:
    description:
      - Internal, set by the action plugin of this module to drive a browser sign-in in steps; do not set it.
      - V(start) starts a sign-in when one is needed (or keeps or refreshes a usable token), V(finish) redeems the
        answer in O(auth_code_response), V(abort) drops a pending sign-in whose answer the controller refused.
    type: str
    choices: [start, finish, abort]
  auth_code_response:
    description:
      - Internal, set by the action plugin of this module; do not set it. The address the browser was redirected
        to, with the authorization code and C(state).
    type: str
  refresh_token:
    description:
      - A refresh token to seed a delegated token with (O(flow=refresh_token)).
      - Used only when there is no token yet, the settings changed, or a different refresh token is given; otherwise
        the stored (rotated) refresh token is used, so leaving the seed in a playbook is harmless.
    type: str
  username:
    description:
      - The mailbox the token is for (the C(user=) of XOAUTH2), stored with the token.
      - With O(flow=service_account), required, the Workspace mailbox the service account acts for (the C(sub) of
        the assertion).
    type: str
  service_account_key_file:
    description:
      - With O(flow=service_account), path on the managed host of the service account's JSON key file, exactly as
        Google Cloud gives it (C(type=service_account), C(client_email), C(private_key), C(private_key_id),
        C(token_uri)).
      - The file is checked before any request (a key that is not a service account key, lacks a field or whose
        private key does not load fails with an error naming this option, and nothing is written); its private key
        is sealed in the token file.
      - Mutually exclusive with O(service_account_key).
    type: path
  service_account_key:
    description:
      - With O(flow=service_account), the content of the service account's JSON key file (text or an already parsed
        dictionary, for example from Ansible Vault), instead of O(service_account_key_file).
      - An empty string counts as an error, so an empty vault variable is noticed.
    type: jsonarg
  return_token:
    description:
      - Return the access token as RV(access_token). Avoid it unless a later task needs the token itself.
      - The token is then part of the task's result, which Ansible shows with C(-v) and hands to callbacks and
        logs. Set C(no_log) to C(true) on the task (see the examples); without it the module warns.
    type: bool
    default: false
  mode:
    description:
      - The permissions of the token file and its side files, octal (V(0640), quoted in YAML) or symbolic
        (V(u=rw,g=r)), as M(ansible.builtin.file) takes them. A symbolic mode is applied to V(0600) for a new file.
      - A wrong mode fails before anything is written or requested, naming this option.
    type: raw
    default: '0600'
  owner:
    description:
      - Name or ID of the user that should own the token file and its side files.
      - When the module runs as root and the token's folder belongs to another user, the files belong to that user;
        O(owner) must then name that user or be left out.
  group:
    description:
      - Name or ID of the group of the token file and its side files.
      - When the module runs as root and the token's folder belongs to another user, O(group) must be one of that
        user's groups.
  unsafe_writes:
    description:
      - Ignored. The token file and its side files are always replaced atomically (a temporary file, then a
        rename), since a half-written token file would lose the refresh token.
seealso:
  - name: Device code sign-in
    description: What a person sees and does when O(flow=device_code) asks for a sign-in.
    link: https://github.com/xoauth2/mail/blob/main/docs/device-code.md
  - name: Browser sign-in
    description: What a person sees and does when O(flow=auth_code) asks for a sign-in, and why it is safe.
    link: https://github.com/xoauth2/mail/blob/main/docs/browser-signin.md
  - name: Getting started
    description: Install, make a key, get a first token.
    link: https://github.com/xoauth2/mail/blob/main/docs/getting-started.md
  - name: Errors and fixes
    description: What each error category and provider code means.
    link: https://github.com/xoauth2/mail/blob/main/docs/troubleshooting.md
"""

EXAMPLES = r"""
- name: App-only token for Microsoft 365 SMTP (client credentials)
  xoauth2.mail.oauth_mail_token:
    path: /var/lib/xoauth2-relay/alerts.token
    provider: microsoft
    tenant_id: 00000000-0000-0000-0000-000000000000
    client_id: 11111111-1111-1111-1111-111111111111
    client_secret: "{{ vault_m365_client_secret }}"
    username: alerts@example.com
    encryption_key: "{{ vault_token_key }}"
    owner: xoauth2-relay
    mode: '0600'

- name: Delegated token seeded from a refresh token, refreshed when it expires within 15 minutes
  xoauth2.mail.oauth_mail_token:
    path: /var/lib/xoauth2-relay/scanner.token
    provider: microsoft
    tenant_id: contoso.onmicrosoft.com
    client_id: 11111111-1111-1111-1111-111111111111
    refresh_token: "{{ vault_scanner_refresh_token }}"
    username: scanner@contoso.com
    encryption_key_file: /etc/xoauth2/token.key
    min_validity: 900

- name: Any OpenID Connect server with client credentials
  xoauth2.mail.oauth_mail_token:
    path: /etc/myapp/mail.token
    provider: oidc
    authority: https://idp.example.com/realms/mail
    client_id: myapp
    client_secret: "{{ vault_idp_secret }}"
    scopes: [mail.send]
    encryption_key_file: /etc/myapp/token.key

- name: Force a refresh now (for example after changing the app registration)
  xoauth2.mail.oauth_mail_token:
    path: /var/lib/xoauth2-relay/alerts.token
    state: refreshed
    client_secret: "{{ vault_m365_client_secret }}"
    encryption_key: "{{ vault_token_key }}"

- name: Delegated token for a person's mailbox, signed in once with a device code (shown in the play output)
  xoauth2.mail.oauth_mail_token:
    path: /var/lib/xoauth2-relay/scanner.token
    provider: microsoft
    tenant_id: contoso.onmicrosoft.com
    client_id: 22222222-2222-2222-2222-222222222222
    flow: device_code
    username: scanner@contoso.com
    encryption_key_file: /etc/xoauth2/token.key
    device_code_timeout: 600

- name: A Gmail user's mailbox, signed in once with a browser on the controller (PKCE, loopback redirect)
  xoauth2.mail.oauth_mail_token:
    path: /var/lib/xoauth2-relay/scanner.token
    provider: google
    flow: auth_code
    client_id: 123456789012-abcdefghijklmnop.apps.googleusercontent.com
    client_secret: "{{ vault_google_desktop_client_secret }}"
    username: scanner@gmail.com
    encryption_key_file: /etc/xoauth2/token.key

- name: The same for Microsoft 365, from a controller without a browser (paste the redirected address)
  xoauth2.mail.oauth_mail_token:
    path: /var/lib/xoauth2-relay/scanner.token
    flow: auth_code
    auth_code_mode: paste
    auth_code_redirect_uri: http://localhost:8400/
    provider: microsoft
    tenant_id: contoso.onmicrosoft.com
    client_id: 22222222-2222-2222-2222-222222222222
    username: scanner@contoso.com
    encryption_key_file: /etc/xoauth2/token.key

- name: Hand the access token to a later task, kept out of the output
  xoauth2.mail.oauth_mail_token:
    path: /var/lib/xoauth2-relay/alerts.token
    encryption_key: "{{ vault_token_key }}"
    return_token: true
  register: alerts_token
  no_log: true

- name: Key rotation, re-seal the file with the new key (no request to the identity provider)
  xoauth2.mail.oauth_mail_token:
    path: /var/lib/xoauth2-relay/alerts.token
    encryption_key: "{{ vault_token_key_new }}"
    previous_encryption_keys:
      - "{{ vault_token_key }}"

- name: Google Workspace mailbox through a service account with domain-wide delegation
  xoauth2.mail.oauth_mail_token:
    path: /var/lib/xoauth2-relay/alerts.token
    provider: google
    flow: service_account
    service_account_key_file: /etc/xoauth2/mail-relay-sa.json
    username: alerts@example.com
    encryption_key_file: /etc/xoauth2/token.key
    owner: xoauth2-relay

- name: The same, with the key from Ansible Vault instead of a file on the host
  xoauth2.mail.oauth_mail_token:
    path: /var/lib/xoauth2-relay/alerts.token
    provider: google
    service_account_key: "{{ vault_google_service_account_key }}"
    username: alerts@example.com
    encryption_key: "{{ vault_token_key }}"

- name: A Gmail user's mailbox, seeded with a refresh token from a browser sign-in
  xoauth2.mail.oauth_mail_token:
    path: /var/lib/xoauth2-relay/scanner.token
    provider: google
    client_id: 123456789012-abcdefghijklmnop.apps.googleusercontent.com
    client_secret: "{{ vault_google_client_secret }}"
    refresh_token: "{{ vault_scanner_refresh_token }}"
    username: scanner@gmail.com
    encryption_key_file: /etc/xoauth2/token.key

- name: Tell a person when the mailbox must be signed in again (and when it works again)
  xoauth2.mail.oauth_mail_token:
    path: /var/lib/xoauth2-relay/scanner.token
    flow: device_code
    encryption_key_file: /etc/xoauth2/token.key
    notify_command: [/usr/local/bin/mail-reauth-alert]
    notify_webhook_url: "{{ vault_eda_webhook_url }}"
    notify_webhook_token: "{{ vault_eda_webhook_token }}"
    notify_fix: Launch the AWX job template "Mail re-authentication" for {account}

- name: Remove a token and its side files
  xoauth2.mail.oauth_mail_token:
    path: /var/lib/xoauth2-relay/old.token
    state: absent
"""

RETURN = r"""
path:
  description: Absolute path of the token file.
  returned: always
  type: str
  sample: /var/lib/xoauth2-relay/alerts.token
action:
  description:
    - What was done (or would be done in check mode).
    - V(rekeyed), a token file sealed with one of O(previous_encryption_keys) was re-sealed with the current key,
      without any request to the identity provider. When the token had to be renewed too, the action is the
      renewal's (V(refreshed) or V(acquired)) and RV(reason) says the file changed key.
  returned: always
  type: str
  choices: [none, acquired, refreshed, rekeyed, removed, device_code_pending, auth_code_pending]
  sample: refreshed
reason:
  description: Why the action was chosen.
  returned: always
  type: str
  sample: the token expires within min_validity (600 s)
expires_at:
  description: When the access token expires, ISO 8601 UTC.
  returned: when a token is present
  type: str
  sample: '2026-11-22T10:15:00Z'
expires_in:
  description: Seconds until the access token expires.
  returned: when a token is present
  type: int
  sample: 3599
username:
  description: The mailbox the token is for.
  returned: when a token is present
  type: str
  sample: alerts@example.com
provider:
  description: The identity provider.
  returned: when a token is present
  type: str
  sample: microsoft
flow:
  description: The flow the token was obtained with.
  returned: when a token is present
  type: str
  sample: client_credentials
scopes:
  description: The requested scopes.
  returned: when a token is present
  type: list
  elements: str
  sample: [https://outlook.office365.com/.default]
token_type:
  description: Token type, normally C(Bearer).
  returned: when a token is present
  type: str
  sample: Bearer
access_token:
  description: The access token. Treat it as a secret.
  returned: when O(return_token=true) and a token is present
  type: str
device_pending:
  description: True when a device sign-in was started and is waiting for the person (between the two steps).
  returned: with O(flow=device_code), while a sign-in is pending
  type: bool
  sample: true
device_authorization:
  description: What the person must do to sign in. Never contains the device code.
  returned: with O(flow=device_code), when a sign-in was started
  type: dict
  contains:
    verification_uri:
      description: The page to open.
      type: str
      sample: https://microsoft.com/devicelogin
    verification_uri_complete:
      description: The page with the code filled in, when the provider gives one.
      type: str
    user_code:
      description: The code to enter on the page.
      type: str
      sample: ABCD-EFGH
    expires_in:
      description: Seconds until the code expires.
      type: int
    expires_at:
      description: When the code expires, seconds since the epoch.
      type: int
    interval:
      description: Seconds between polls the provider asks for.
      type: int
    timeout:
      description: The O(device_code_timeout) in effect.
      type: int
    message:
      description: The provider's instructions (or ours).
      type: str
signin_pending:
  description: True when a browser sign-in was started and waits for its answer (between the action plugin's steps).
  returned: with O(flow=auth_code), while a sign-in is pending
  type: bool
  sample: true
signin:
  description: The browser sign-in that was started. Never contains the PKCE verifier, a code or a token.
  returned: with O(flow=auth_code), when a sign-in was started
  type: dict
  contains:
    authorization_url:
      description: The address to open in a browser (with C(state) and the PKCE challenge, as a browser shows it).
      type: str
    redirect_uri:
      description: The loopback address the browser is sent back to.
      type: str
      sample: http://127.0.0.1:43127/
    expires_at:
      description: When the wait for the answer ends, seconds since the epoch.
      type: int
    timeout:
      description: The O(auth_code_timeout) in effect.
      type: int
error_category:
  description: On failure, one of V(temporary), V(reauth_required), V(configuration), V(storage).
  returned: failure
  type: str
  sample: reauth_required
error_code:
  description: On failure, the provider's error code (with Microsoft's AADSTS numbers).
  returned: failure, when the provider gave one
  type: str
  sample: invalid_grant (AADSTS700082)
"""

import os
import time
from dataclasses import replace

from ansible_collections.xoauth2.mail.plugins.module_utils._ansible_module import DEFAULT_MODE, OAuthMailModule
from ansible_collections.xoauth2.mail.plugins.module_utils._auth_code_flow import (
    AuthCodeSignIn,
    SignInStore,
    check_redirect_uri,
    parse_redirect,
)
from ansible_collections.xoauth2.mail.plugins.module_utils._crypto import key_id
from ansible_collections.xoauth2.mail.plugins.module_utils._device_flow import PENDING, PendingStore, poll_until
from ansible_collections.xoauth2.mail.plugins.module_utils._errors import ConfigurationError, OAuthMailError, ReauthRequired
from ansible_collections.xoauth2.mail.plugins.module_utils._folder_owner import prepare_folder
from ansible_collections.xoauth2.mail.plugins.module_utils._fresh_token import create_provider
from ansible_collections.xoauth2.mail.plugins.module_utils._options import NOTICE_ARGUMENT_SPEC, notifier_from_options
from ansible_collections.xoauth2.mail.plugins.module_utils._retry import with_retries
from ansible_collections.xoauth2.mail.plugins.module_utils._session import KEEP, REFRESH, Outcome, TokenSession
from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile
from ansible_collections.xoauth2.mail.plugins.module_utils._token_record import TokenRecord


def argument_spec():
    # owner, group and the SELinux options come with add_file_common_args; mode is given its default here.
    return OAuthMailModule.generate_argspec(
        path=dict(type="path", required=True),
        state=dict(type="str", default="present", choices=["present", "refreshed", "absent"]),
        refresh_token=dict(type="str", no_log=True),
        username=dict(type="str"),
        return_token=dict(type="bool", default=False),
        mode=dict(type="raw", default=DEFAULT_MODE),
        device_code_timeout=dict(type="int", default=900),
        device_code_step=dict(type="str", choices=["start", "poll"]),
        auth_code_mode=dict(type="str", default="listener", choices=["listener", "paste"]),
        auth_code_redirect_uri=dict(type="str", default="http://127.0.0.1/"),
        auth_code_timeout=dict(type="int", default=300),
        auth_code_step=dict(type="str", choices=["start", "finish", "abort"]),
        auth_code_response=dict(type="str", no_log=True),
        service_account_key=dict(type="jsonarg", no_log=True),
        service_account_key_file=dict(type="path", no_log=False),
        **NOTICE_ARGUMENT_SPEC
    )


# Longest single wait of a poll step; the action plugin calls again until the sign-in ends.
DEVICE_POLL_WINDOW = 60


def main():
    module = OAuthMailModule(
        argument_spec=argument_spec(),
        add_file_common_args=True,
        mutually_exclusive=[("encryption_key", "encryption_key_file"), ("client_secret", "client_certificate"),
                            ("service_account_key", "service_account_key_file")],
        required_if=[
            ("state", "present", ("encryption_key", "encryption_key_file"), True),
            ("state", "refreshed", ("encryption_key", "encryption_key_file"), True),
        ],
    )
    with module.reporting_core_errors(path=os.path.abspath(module.params["path"])):
        result = run(module)
    module.exit_json(**result)


def run(module):
    """The task's result, whichever way it goes; a core error is raised for main to report."""
    params = module.params
    mode = module.creation_mode()
    # As root: refuse a folder others can write; in another user's folder, work as that user.
    uid, gid = prepare_folder(params["path"], *module.owner_ids())
    if params["state"] == "absent":
        return remove(module, TokenFile(params["path"], None, mode, uid, gid))
    key, previous = module.token_keys()
    token_file = TokenFile(params["path"], key, mode, uid, gid, previous_keys=previous)
    session = TokenSession(module.token_settings(), token_file, provider_factory=create_provider,
                           notifier=notifier_from_options(module.option, token_file.path))
    sign_in = SIGN_INS.get(params["flow"])
    if sign_in is None:
        outcome = session.ensure_valid(
            params["min_validity"], force=params["state"] == "refreshed", check_mode=module.check_mode)
    else:
        outcome = sign_in(module, session).run()
        if not isinstance(outcome, Outcome):
            return outcome  # a sign-in waits for a person (or was dropped)
    return finish(module, session, outcome)


def metadata_before_removal(token_file):
    try:
        envelope = token_file.read_envelope()
    except OAuthMailError:
        return {}  # an unreadable file is still removed when asked to
    meta = (envelope or {}).get("meta", {})
    return TokenRecord(meta=meta).public_view(time.time()) if meta else {}


def remove(module, token_file):
    """state=absent: the token file, every side file and leftover temp files; links are removed, not followed."""
    existing = token_file.existing_files(temps=True)
    before = metadata_before_removal(token_file)
    if existing and not module.check_mode:
        token_file.remove()
    return dict(
        changed=bool(existing), path=token_file.path, action="removed" if existing else "none",
        reason="removed %s" % ", ".join(existing) if existing else "no token file",
        diff=dict(before=dict(before, path=token_file.path) if existing else {}, after={}),
    )


def finish(module, session, outcome):
    """The result of a run that ends with a token: file arguments applied, pending notice sent."""
    token_file = session.token_file
    changed = outcome.changed
    if not module.check_mode:
        if os.path.exists(token_file.path):
            # Atomic writes set mode and owner already; this covers new file arguments on a valid token,
            # and SELinux contexts. Each file is checked first (no link, one name) and set as the folder's owner.
            changed = token_file.apply_attributes(module.file_attributes_setter()) or changed
        # a notice left pending (an earlier failed send, or recorded by a process without notice settings)
        outcome.warnings.append(session.deliver_pending_notice())
    for warning in filter(None, outcome.warnings):
        module.warn(warning)
    if module.params["return_token"] and not module.no_log:
        module.warn("return_token=true puts the access token into this task's result, which -v output, callbacks "
                    "and logs show: set no_log: true on the task.")
    return result(module, token_file, session, outcome, changed)


def usable_token(module, session):
    """(Outcome, None) when the token is kept or could be refreshed, else (None, the decision a person must
    sign in for: its reason and the settings a sign-in uses)."""
    params = module.params
    min_validity = params["min_validity"]
    force = params["state"] == "refreshed"
    decision = session.decide(session.token_file.read(), min_validity, force)
    if decision.action == KEEP or module.check_mode:
        return session.ensure_valid(min_validity, force=force, check_mode=module.check_mode), None
    if decision.action == REFRESH:
        try:
            return session.ensure_valid(min_validity, force=force), None
        except ReauthRequired as error:
            return None, replace(decision, reason="the stored grant was refused (%s): a person must sign in again"
                                 % (error.code or error.message))
    return None, decision


class SignIn:
    """A sign-in that needs a person, driven in steps by the action plugin.

    Step start keeps or refreshes a usable token, or starts a sign-in and keeps it sealed beside the token;
    the finishing step completes it with the provider and saves the grant. A failed finish ends the sign-in
    and leaves the token file untouched. Subclasses say how each step talks to the provider.
    """

    step_option = finish_step = what = action = pending_flag = prompt_key = waiting = ""
    store_class = PendingStore

    def __init__(self, module, session):
        self.module, self.params, self.session = module, module.params, session
        token_file = session.token_file
        self.store = self.store_class(token_file.path, token_file.key, token_file.mode, token_file.uid, token_file.gid)

    def run(self):
        """An Outcome when a token is there, else the result of a pending (or dropped) sign-in."""
        step = self.params[self.step_option]
        if step == "abort":
            return self.abort()
        if step == self.finish_step:
            return self.finish()
        outcome, decision = usable_token(self.module, self.session)
        if outcome is not None:
            return outcome
        # No usable token: a person must sign in. Start here, on the host that will keep the token.
        settings = decision.settings
        pending = self.begin(self.provider(settings), settings)
        pending.identity = settings.identity()
        self.store.save(pending)
        return self.pending_result(pending, True, "%s; %s" % (decision.reason, self.waiting))

    def finish(self):
        pending = self.store.load()
        if pending is None:
            raise ConfigurationError("No %s is pending for %s. Run the task again: its action plugin starts one."
                                     % (self.what, self.session.token_file.path))
        try:
            grant = self.complete(self.provider(self.session.settings.resolved(pending.identity)), pending)
        except OAuthMailError as error:
            # Denied, expired, timed out or refused: this sign-in is over. The token file is untouched.
            self.store.remove()
            self.session.record_failure(error)
            raise
        if grant is None:
            self.store.save(pending)  # keeps the pace (interval after slow_down, last poll) for the next step
            return self.pending_result(pending, False, self.waiting)
        outcome = self.session.store_grant(grant, self.params["min_validity"], self.signed_in(pending))
        self.store.remove()
        return outcome

    def abort(self):
        removed = self.store.remove()
        return dict(changed=False, path=self.session.token_file.path, action="none",
                    reason="the %s was abandoned%s" % (self.what, "" if removed else " (none was pending)"))

    def pending_result(self, pending, changed, reason):
        return {"changed": changed, "path": self.session.token_file.path, "action": self.action, "reason": reason,
                self.pending_flag: True, self.prompt_key: pending.prompt()}

    @staticmethod
    def provider(settings):
        return create_provider(settings, {"secret": settings.client_secret} if settings.client_secret else None)

    @staticmethod
    def retried(provider, settings, call):
        """``call()`` with the retries and the overall timeout of the settings."""
        def attempt(seconds_left):
            provider.session.timeout = seconds_left
            return call()
        return with_retries(attempt, int(settings.retries), float(settings.timeout))


class DeviceCodeSignIn(SignIn):
    """flow=device_code: the device authorization grant (RFC 8628); the finishing step polls."""

    store_class, step_option, finish_step = PendingStore, "device_code_step", "poll"
    what, action, pending_flag, prompt_key, waiting = (
        "device sign-in", "device_code_pending", "device_pending", "device_authorization",
        "waiting for a person to sign in with the device code")

    def begin(self, provider, settings):
        authorization = self.retried(provider, settings, provider.start_device_flow)
        authorization.timeout = self.params["device_code_timeout"]
        return authorization

    @staticmethod
    def complete(provider, authorization):
        """The grant, or None while the person has not answered yet."""
        status, grant = poll_until(provider.poll_device_flow, authorization, DEVICE_POLL_WINDOW)
        return None if status == PENDING else grant

    @staticmethod
    def signed_in(authorization):
        return "a person signed in with the device code %s" % authorization.user_code


class BrowserSignIn(SignIn):
    """flow=auth_code: the authorization code grant with PKCE; the finishing step redeems the answer."""

    store_class, step_option, finish_step = SignInStore, "auth_code_step", "finish"
    what, action, pending_flag, prompt_key, waiting = (
        "browser sign-in", "auth_code_pending", "signin_pending", "signin", "waiting for a person to sign in with a browser")

    def begin(self, provider, settings):
        check_redirect_uri(self.params["auth_code_redirect_uri"])
        signin = AuthCodeSignIn.new(self.params["auth_code_redirect_uri"])
        signin.timeout = self.params["auth_code_timeout"]
        self.retried(provider, settings, lambda: provider.start_auth_code(signin))
        return signin

    def complete(self, provider, signin):
        signin.check_not_expired(time.time())
        code = parse_redirect(self.params["auth_code_response"], signin.state, signin.redirect_uri)
        # One attempt: a code is single-use, and a replayed one makes servers revoke what it granted.
        return provider.redeem_auth_code(signin, code)

    @staticmethod
    def signed_in(signin):
        return "a person signed in with a browser"


SIGN_INS = {"device_code": DeviceCodeSignIn, "auth_code": BrowserSignIn}


def result(module, token_file, session, outcome, changed):
    now = session.clock()
    before = outcome.before.public_view(now) if outcome.before else {}
    data = dict(changed=changed, path=token_file.path, action=outcome.action, reason=outcome.reason)
    if outcome.record is not None:
        view = outcome.record.public_view(now)
        data.update({name: view[name] for name in ("expires_at", "expires_in", "username", "provider", "flow",
                                                   "scopes", "token_type")})
        if module.params["return_token"]:
            data["access_token"] = outcome.record.access_token
    if module.check_mode and outcome.action == "rekeyed":
        after = dict(before)
    elif module.check_mode and outcome.changed:
        after = dict(before, **{name: value for name, value in session.resolved.identity().items() if value})
        after["expires_at"] = "(new token would be %s)" % outcome.action
    else:
        after = outcome.record.public_view(now) if outcome.record else {}
    old_key = token_file.previous_key_id(outcome.before)
    if old_key:
        # key ids are public (they are in the file); they show a key change in the diff
        before["key_id"], after["key_id"] = old_key, key_id(token_file.key)
    data["diff"] = dict(before=before, after=after)
    return data


if __name__ == "__main__":
    main()
