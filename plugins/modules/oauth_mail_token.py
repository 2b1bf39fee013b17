#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: oauth_mail_token
short_description: Keep a valid OAuth2 token for SMTP/IMAP in an encrypted file
version_added: 0.1.0
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
    where one of them should be is refused (C(error_category=storage)) and left as it is. Owner and mode are set only
    on files the module has just created, or through the descriptor of a file that passed these checks.
  - Running as root, the module refuses a token folder that its group or others can write, sticky bit or not, because
    such a user could plant links there. The error names O(path).
  - Running as root with a token folder owned by another user (the C(xoauth2.mail.relay_helper) role makes the folder
    owned by the service user), every file operation inside that folder is done as that user (its effective uid, gid
    and groups; the real uid stays root). The files are then created owned by that user without any chown. O(owner)
    must be that user or be left out, and O(group) one of its groups. Files outside the folder (the key file, a client
    certificate, CA files) are read as root.
  - Notices (O(notify_command), O(notify_webhook_url)) are sent once per state change, whichever process records
    it (this module, the lookup, the relay helper); the decision is made under the token's lock and kept in
    C(<path>.status). A run that keeps a valid token also sends a notice left pending by an earlier failed attempt
    or by a process without notice settings.
  - During a key rotation (O(previous_encryption_keys)) the C(.device) file is not re-sealed, since it lives for
    one sign-in only and the next sign-in writes it with the current key. C(<path>.bak) is re-sealed with the
    token.
attributes:
  action_group:
    description: Use C(group/xoauth2.mail.oauth) in C(module_defaults) to set the provider, client and key options once.
    support: full
    membership:
      - xoauth2.mail.oauth
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
  owner:
    description:
      - Name or ID of the user that should own the token file and its side files.
      - When the module runs as root and the token's folder belongs to another user, the files belong to that user;
        O(owner) must then name that user or be left out.
    type: str
  group:
    description:
      - Name or ID of the group of the token file and its side files.
      - When the module runs as root and the token's folder belongs to another user, O(group) must be one of that
        user's groups.
    type: str
  mode:
    description:
      - Permissions of the token file and its side files, as an octal string.
    type: str
    default: '0600'
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
    provider: microsoft
    tenant_id: contoso.onmicrosoft.com
    client_id: 22222222-2222-2222-2222-222222222222
    flow: auth_code
    auth_code_mode: paste
    auth_code_redirect_uri: http://localhost:8400/
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

import grp
import os
import pwd
import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.xoauth2.mail.plugins.module_utils._auth_code_flow import (
    AuthCodeSignIn,
    SignInStore,
    check_redirect_uri,
    parse_redirect,
)
from ansible_collections.xoauth2.mail.plugins.module_utils._dependencies import MissingDependency, require
from ansible_collections.xoauth2.mail.plugins.module_utils._device_flow import PENDING, PendingStore, poll_until
from ansible_collections.xoauth2.mail.plugins.module_utils._errors import OAuthMailError, ReauthRequired
from ansible_collections.xoauth2.mail.plugins.module_utils._folder_owner import prepare_folder
from ansible_collections.xoauth2.mail.plugins.module_utils._retry import with_retries
from ansible_collections.xoauth2.mail.plugins.module_utils._options import (
    NOTICE_ARGUMENT_SPEC,
    TOKEN_ARGUMENT_SPEC,
    getter_from_dict,
    keys_from_options,
    notifier_from_options,
    settings_from_options,
)
from ansible_collections.xoauth2.mail.plugins.module_utils._crypto import key_id
from ansible_collections.xoauth2.mail.plugins.module_utils._session import KEEP, REFRESH, TokenSession
from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile
from ansible_collections.xoauth2.mail.plugins.module_utils._token_record import TokenRecord


def argument_spec():
    spec = dict(TOKEN_ARGUMENT_SPEC)
    spec.update(NOTICE_ARGUMENT_SPEC)
    spec.update(
        path=dict(type="path", required=True),
        state=dict(type="str", default="present", choices=["present", "refreshed", "absent"]),
        refresh_token=dict(type="str", no_log=True),
        username=dict(type="str"),
        return_token=dict(type="bool", default=False),
        owner=dict(type="str"),
        group=dict(type="str"),
        mode=dict(type="str", default="0600"),
        device_code_timeout=dict(type="int", default=900),
        device_code_step=dict(type="str", choices=["start", "poll"]),
        auth_code_mode=dict(type="str", default="listener", choices=["listener", "paste"]),
        auth_code_redirect_uri=dict(type="str", default="http://127.0.0.1/"),
        auth_code_timeout=dict(type="int", default=300),
        auth_code_step=dict(type="str", choices=["start", "finish", "abort"]),
        auth_code_response=dict(type="str", no_log=True),
        service_account_key=dict(type="jsonarg", no_log=True),
        service_account_key_file=dict(type="path", no_log=False),
    )
    return spec


# Longest single wait of a poll step; the action plugin calls again until the sign-in ends.
DEVICE_POLL_WINDOW = 60


def parse_mode(module):
    text = str(module.params["mode"]).strip()
    try:
        mode = int(text, 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o7777:
        module.fail_json(msg="mode must be an octal string such as '0600', got %r." % text, error_category="configuration")
    return mode


def resolve_id(module, option, lookup):
    value = module.params[option]
    if value is None or value == "":
        return None
    if str(value).isdigit():
        return int(value)
    try:
        return lookup(value)
    except KeyError:
        module.fail_json(msg="%s %r does not exist on the managed host." % (option, value), error_category="configuration")


def create_provider(settings, credential):
    # Imported only when a token is renewed: the no-change path stays light.
    from ansible_collections.xoauth2.mail.plugins.module_utils._providers import create_provider as create
    return create(settings, credential)


def fail(module, error, **extra):
    module.fail_json(msg=str(error), **dict(error.to_dict(), **extra))


def apply_attributes(module, token_file, changed):
    """owner/group/mode on the token and its side files when they were not rewritten.

    Atomic writes set them already; this covers a changed owner or mode on a valid token.
    Done through checked descriptors (never a path that could be a planted link).
    """
    try:
        return token_file.apply_attributes() or changed
    except OAuthMailError as error:
        fail(module, error, path=token_file.path)


def metadata_before_removal(token_file):
    try:
        envelope = token_file.read_envelope()
    except OAuthMailError:
        return {}  # an unreadable file is still removed when asked to
    meta = (envelope or {}).get("meta", {})
    return TokenRecord(meta=meta).public_view(time.time()) if meta else {}


def remove(module, token_file):
    """state=absent: the token file, every side file and leftover temp files; links are removed, not followed."""
    try:
        existing = token_file.existing_files(temps=True)
    except OAuthMailError as error:
        fail(module, error, path=token_file.path)
    before = metadata_before_removal(token_file)
    if existing and not module.check_mode:
        try:
            token_file.remove()
        except OAuthMailError as error:
            fail(module, error, path=token_file.path)
    module.exit_json(
        changed=bool(existing), path=token_file.path, action="removed" if existing else "none",
        reason="removed %s" % ", ".join(existing) if existing else "no token file",
        diff=dict(before=dict(before, path=token_file.path) if existing else {}, after={}),
    )


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        mutually_exclusive=[("encryption_key", "encryption_key_file"), ("client_secret", "client_certificate"),
                            ("service_account_key", "service_account_key_file")],
        required_if=[
            ("state", "present", ("encryption_key", "encryption_key_file"), True),
            ("state", "refreshed", ("encryption_key", "encryption_key_file"), True),
        ],
    )
    params = module.params
    mode = parse_mode(module)
    uid = resolve_id(module, "owner", lambda name: pwd.getpwnam(name).pw_uid)
    gid = resolve_id(module, "group", lambda name: grp.getgrnam(name).gr_gid)
    try:
        # As root: refuse a folder others can write; in another user's folder, work as that user.
        uid, gid = prepare_folder(params["path"], uid, gid)
    except OAuthMailError as error:
        fail(module, error, path=os.path.abspath(params["path"]))

    if params["state"] == "absent":
        remove(module, TokenFile(params["path"], None, mode, uid, gid))

    get = getter_from_dict(params)
    try:
        require("cryptography")
        key, previous = keys_from_options(get)
        token_file = TokenFile(params["path"], key, mode, uid, gid, previous_keys=previous)
        session = TokenSession(settings_from_options(get), token_file, provider_factory=create_provider,
                               notifier=notifier_from_options(get, token_file.path))
        if params["flow"] == "device_code":
            outcome = device_code(module, session, PendingStore(params["path"], token_file.key, mode, uid, gid))
        elif params["flow"] == "auth_code":
            outcome = auth_code(module, session, SignInStore(params["path"], token_file.key, mode, uid, gid))
        else:
            outcome = session.ensure_valid(
                params["min_validity"], force=params["state"] == "refreshed", check_mode=module.check_mode)
    except MissingDependency as missing:
        module.fail_json(msg=missing_required_lib(missing.requirement, reason=missing.reason),
                         exception=missing.import_traceback, error_category="configuration")
    except OAuthMailError as error:
        fail(module, error, path=os.path.abspath(params["path"]))
    finish(module, token_file, session, outcome)


def finish(module, token_file, session, outcome):
    changed = outcome.changed
    if os.path.exists(token_file.path) and not module.check_mode:
        changed = apply_attributes(module, token_file, changed)
    if not module.check_mode:
        # a notice left pending (an earlier failed send, or recorded by a process without notice settings)
        outcome.warnings.append(session.deliver_pending_notice())
    for warning in filter(None, outcome.warnings):
        module.warn(warning)
    if module.params["return_token"] and not module.no_log:
        module.warn("return_token=true puts the access token into this task's result, which -v output, callbacks "
                    "and logs show: set no_log: true on the task.")
    module.exit_json(**result(module, token_file, session, outcome, changed))


def usable_token(module, session):
    """An Outcome when the token is kept or could be refreshed, else (None, why a person must sign in)."""
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
            return None, "the stored grant was refused (%s): a person must sign in again" % (
                error.code or error.message)
    return None, decision.reason


def device_code(module, session, store):
    """flow=device_code: keep or refresh a usable token, else start (step start) or finish (step poll) a sign-in.

    Exits the module itself while a sign-in is pending; returns an Outcome when a token is there.
    """
    params = module.params
    if params["device_code_step"] == "poll":
        return device_poll(module, session, store)
    outcome, reason = usable_token(module, session)
    if outcome is not None:
        return outcome
    # No usable token: a person must sign in. Start here, on the host that will keep the token.
    settings = session.resolved
    provider = create_provider(settings, {"secret": settings.client_secret} if settings.client_secret else None)

    def attempt(seconds_left):
        provider.session.timeout = seconds_left
        return provider.start_device_flow()

    authorization = with_retries(attempt, int(settings.retries), float(settings.timeout))
    authorization.timeout = params["device_code_timeout"]
    authorization.identity = settings.identity()
    store.save(authorization)
    module.exit_json(
        changed=True, path=session.token_file.path, action="device_code_pending",
        reason="%s; waiting for a person to sign in with the device code" % reason,
        device_pending=True, device_authorization=authorization.prompt())


def device_poll(module, session, store):
    params = module.params
    authorization = store.load()
    if authorization is None:
        module.fail_json(
            msg="No device sign-in is pending for %s. Run the task again: its action plugin starts one."
            % session.token_file.path, error_category="configuration", path=session.token_file.path)
    settings = session.settings.resolved(authorization.identity)
    provider = create_provider(settings, {"secret": settings.client_secret} if settings.client_secret else None)
    try:
        status, grant = poll_until(provider.poll_device_flow, authorization, DEVICE_POLL_WINDOW)
    except OAuthMailError as error:
        # Denied, expired, timed out or refused: this sign-in is over. The token file is untouched.
        store.remove()
        session.record_failure(error)
        raise
    if status == PENDING:
        store.save(authorization)  # keeps the pace (interval after slow_down, last poll) for the next step
        module.exit_json(
            changed=False, path=session.token_file.path, action="device_code_pending",
            reason="waiting for a person to sign in with the device code",
            device_pending=True, device_authorization=authorization.prompt())
    outcome = session.store_grant(
        grant, params["min_validity"], "a person signed in with the device code %s" % authorization.user_code)
    store.remove()
    return outcome


def auth_code(module, session, store):
    """flow=auth_code: keep or refresh a usable token, else start a browser sign-in (step start), redeem its
    answer (step finish) or drop it (step abort). Exits the module itself while a sign-in is pending."""
    params = module.params
    if params["auth_code_step"] == "abort":
        removed = store.remove()
        module.exit_json(changed=False, path=session.token_file.path, action="none",
                         reason="the browser sign-in was abandoned%s" % ("" if removed else " (none was pending)"))
    if params["auth_code_step"] == "finish":
        return auth_code_finish(module, session, store)
    outcome, reason = usable_token(module, session)
    if outcome is not None:
        return outcome
    check_redirect_uri(params["auth_code_redirect_uri"])
    settings = session.resolved
    provider = create_provider(settings, {"secret": settings.client_secret} if settings.client_secret else None)
    signin = AuthCodeSignIn.new(params["auth_code_redirect_uri"])
    signin.timeout = params["auth_code_timeout"]
    signin.identity = settings.identity()

    def attempt(seconds_left):
        provider.session.timeout = seconds_left
        return provider.start_auth_code(signin)

    with_retries(attempt, int(settings.retries), float(settings.timeout))
    store.save(signin)
    module.exit_json(
        changed=True, path=session.token_file.path, action="auth_code_pending",
        reason="%s; waiting for a person to sign in with a browser" % reason,
        signin_pending=True, signin=signin.prompt())


def auth_code_finish(module, session, store):
    params = module.params
    signin = store.load()
    if signin is None:
        module.fail_json(
            msg="No browser sign-in is pending for %s. Run the task again: its action plugin starts one."
            % session.token_file.path, error_category="configuration", path=session.token_file.path)
    settings = session.settings.resolved(signin.identity)
    try:
        signin.check_not_expired(time.time())
        code = parse_redirect(params["auth_code_response"], signin.state, signin.redirect_uri)
        provider = create_provider(settings, {"secret": settings.client_secret} if settings.client_secret else None)
        # One attempt: a code is single-use, and a replayed one makes servers revoke what it granted.
        grant = provider.redeem_auth_code(signin, code)
    except OAuthMailError as error:
        # Denied, timed out, wrong state or refused: this sign-in is over. The token file is untouched.
        store.remove()
        session.record_failure(error)
        raise
    outcome = session.store_grant(grant, params["min_validity"], "a person signed in with a browser")
    store.remove()
    return outcome


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
