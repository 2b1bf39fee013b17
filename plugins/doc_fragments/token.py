# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Options shared by everything that reads or renews a token file."""

    DOCUMENTATION = r"""
options:
  provider:
    description:
      - The identity provider.
      - V(microsoft) uses C(msal) against Microsoft Entra ID (or any OIDC issuer given as O(authority)).
      - V(oidc) speaks plain OAuth2 to any standards-compliant server, with endpoints from OpenID Connect discovery.
      - V(google) is Google (Gmail and Google Workspace), with Google's endpoints built in.
      - Required to create a token; when a token file exists, its stored provider is used if this is not set.
    type: str
    choices: [microsoft, oidc, google]
  tenant_id:
    description:
      - Microsoft Entra tenant (directory) ID or domain, used to build the default O(authority)
        C(https://login.microsoftonline.com/<tenant_id>).
    type: str
  authority:
    description:
      - Issuer URL of the identity provider.
      - For V(microsoft), defaults to C(https://login.microsoftonline.com/<tenant_id>); sovereign clouds such as
        C(https://login.microsoftonline.us/<tenant_id>) are accepted, and any other URL is treated as a standard
        OpenID Connect issuer (C(msal) O(authority) versus C(oidc_authority)).
      - For V(oidc), required; it must equal the C(issuer) the server announces, character for character.
      - For V(google), defaults to C(https://accounts.google.com), whose endpoints are built in (no discovery
        request). Any other issuer URL stands in for Google (for example a test server), with the endpoints of its
        OpenID Connect discovery document.
    type: str
  client_id:
    description:
      - Application (client) ID of the app registration.
    type: str
  client_secret:
    description:
      - Client secret of a confidential application. Its value, not its ID.
      - Stored inside the encrypted token file so that the token can be renewed later (by the lookup or the relay
        helper) without repeating it.
      - An empty (or blank) string is refused with an error naming this option, before any request, so that an empty
        vault variable is noticed; leave the option out instead. The same holds for the other credentials (a refresh
        token, the password of O(client_certificate), a service account key).
    type: str
  client_certificate:
    description:
      - Path to a PEM file with the private key and the certificate of the application (Microsoft only), instead of
        O(client_secret).
    type: path
  client_certificate_password:
    description:
      - Password of the private key in O(client_certificate).
    type: str
  scopes:
    description:
      - Scopes to request.
      - Defaults for V(microsoft) are C(https://outlook.office365.com/.default) for O(flow=client_credentials) and
        C(https://outlook.office.com/SMTP.Send) with C(offline_access) for delegated tokens.
      - For V(oidc) no scope is sent unless given.
      - For V(google), C(https://mail.google.com/) (IMAP, SMTP and POP).
    type: list
    elements: str
  encryption_key:
    description:
      - The 256-bit key that encrypts the token file, as base64 text. Make one with C(openssl rand -base64 32) and keep
        it in Ansible Vault.
      - Exactly one of O(encryption_key) and O(encryption_key_file) is needed to read or write a token.
    type: str
  encryption_key_file:
    description:
      - Path to a file that holds the base64 key (see O(encryption_key)). Relative to the host that reads the token.
      - During a key rotation the file may hold several keys, one per line; the first is the current key, the
        others are previous keys (as O(previous_encryption_keys)). Blank lines and lines starting with C(#) are
        ignored.
    type: path
  previous_encryption_keys:
    description:
      - Keys that encrypted token files before the current key (O(encryption_key) or the first key of
        O(encryption_key_file)), as base64 text, for a key rotation.
      - A token file sealed with one of them is read and re-sealed with the current key, atomically and under the
        token's lock, without any request to the identity provider (C(action=rekeyed), C(changed=true)). A token
        that must be renewed anyway is written with the current key by the renewal.
      - A file sealed with none of the keys fails as before and is left as it is.
      - See the rotation runbook in docs/encryption-key.md.
    type: list
    elements: str
  min_validity:
    description:
      - Seconds the access token must still be valid for; a token expiring sooner is renewed.
      - The default of 600 matters for Microsoft, whose high-volume SMTP endpoint refuses tokens about ten minutes
        before they expire.
    type: int
    default: 600
  validate_certs:
    description:
      - Verify the TLS certificate of the identity provider.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of CA certificates to trust for the identity provider instead of the default trust store.
      - It takes precedence over C(REQUESTS_CA_BUNDLE) in the environment.
    type: path
  timeout:
    description:
      - Seconds the whole exchange with the identity provider may take, retries included. Each request gets what is
        left of it.
    type: int
    default: 30
  retries:
    description:
      - How many times a temporary failure (network error, timeout, HTTP 5xx, 429) is retried, with exponential
        backoff and jitter, honouring C(Retry-After).
    type: int
    default: 3
notes:
  - Failures carry C(error_category) (V(temporary), V(reauth_required), V(configuration) or V(storage)) and the
    provider's error code; no message ever contains a token or secret.
  - A token file is never deleted or overwritten because it could not be read or renewed.
requirements:
  - cryptography >= 44.0.1 (older releases installed with pip are refused, they have known vulnerabilities)
  - msal >= 1.28 (provider V(microsoft), only when a token is renewed)
  - requests >= 2.32.4 (only when a token is renewed; older releases installed with pip are refused)
  - PyJWT (provider V(google) with a service account, only when a token is renewed; C(msal) brings it)
"""
