# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: oauth_token
short_description: A valid OAuth2 access token on the controller, from a token file or client credentials
version_added: 1.0.0
description:
  - Returns an access token that stays valid for at least O(min_validity) seconds, as the bare token, a
    C(Bearer) header value, or the base64 SASL XOAUTH2 initial response.
  - With terms, each term is a token file on the controller, in the format the M(xoauth2.mail.oauth_mail_token)
    module writes. Relative paths are searched like the C(file) lookup does (the play's and role's C(files/) folders).
    A token that expires within O(min_validity) is refreshed with the refresh token or client credential sealed in
    the file, and the rotated refresh token is saved.
  - With O(previous_encryption_keys) (or previous keys in O(encryption_key_file)), a token file sealed with a
    previous key is re-sealed with the current key the first time it is looked up, without any request to the
    identity provider.
  - Without terms, a token is acquired with client credentials from the options (O(provider), O(client_id),
    O(client_secret), ...) and cached in an encrypted file in O(cache_dir), so that a play with many lookups asks
    the identity provider once per token lifetime.
  - Ansible evaluates lookups in forked workers and again on every templating. Refreshes happen under the core's
    cross-process lock with a re-read after the lock is taken, so any number of forks that find the same token
    expiring cause one request to the identity provider.
  - Repeated lookups of a valid token in one worker process do not decrypt the file again while it is unchanged.
author:
  - xoauth2.mail contributors (@xoauth2)
extends_documentation_fragment:
  - xoauth2.mail.token
  - xoauth2.mail.token_plugin
options:
  _terms:
    description:
      - Token files on the controller. Leave out to use client credentials from the options.
    type: list
    elements: path
    required: false
  output:
    description:
      - What to return for each token.
      - V(access_token), the bare access token.
      - V(bearer), C(Bearer <token>), for an C(Authorization) header.
      - V(xoauth2), the base64 SASL XOAUTH2 initial response (C(user=<username>^Aauth=Bearer <token>^A^A)) for
        the token's username, as IMAP C(AUTHENTICATE XOAUTH2) and SMTP C(AUTH XOAUTH2) expect it.
    type: str
    choices: [access_token, bearer, xoauth2]
    default: access_token
  username:
    description:
      - The mailbox of the token.
      - With terms, it only overrides the username stored in the token file for O(output=xoauth2).
      - Without terms, it is stored with the cached token (and part of what makes the cache entry distinct).
    type: str
  scopes:
    description:
      - Scopes to request when a token is acquired by client credentials (without terms).
      - Default for V(microsoft), C(https://outlook.office365.com/.default); for V(oidc) no scope is sent unless
        given. With terms, the token file's scopes are used.
  cache_dir:
    description:
      - Folder on the controller for tokens acquired without terms. Created with mode C(0700).
      - Unless O(encryption_key) or O(encryption_key_file) is given, the cached tokens are encrypted with a random key
        kept in this folder (C(cache.key), mode C(0600)).
    type: path
    default: ~/.cache/xoauth2.mail
    env:
      - name: XOAUTH2_MAIL_CACHE_DIR
    ini:
      - section: xoauth2_mail
        key: cache_dir
    vars:
      - name: xoauth2_mail_cache_dir
notes:
  - Failures raise an error naming the category (V(temporary), V(reauth_required), V(configuration), V(storage)) and
    the provider's code, like the module; never a token or secret.
  - A lookup on a token file needs write access to the file's folder when the token must be refreshed (the new token
    is written atomically beside it, with a C(.lock) file).
seealso:
  - module: xoauth2.mail.oauth_mail_token
  - module: xoauth2.mail.oauth_mail_check
"""

EXAMPLES = r"""
- name: Call Microsoft Graph with a token kept on the controller
  ansible.builtin.uri:
    url: https://graph.microsoft.com/v1.0/users/alerts@example.com/sendMail
    method: POST
    headers:
      Authorization: "{{ lookup('xoauth2.mail.oauth_token', 'files/alerts.token', output='bearer',
                                encryption_key_file='~/.xoauth2/key') }}"
    body_format: json
    body: "{{ message }}"
    status_code: 202

- name: Write an application's config with the SASL XOAUTH2 string
  ansible.builtin.template:
    src: fetchmail.conf.j2
    dest: /etc/myapp/mail.conf
    mode: '0600'
  vars:
    # in the template: auth_string = {{ mail_auth }}
    mail_auth: "{{ lookup('xoauth2.mail.oauth_token', 'files/scanner.token', output='xoauth2',
                          encryption_key=vault_token_key) }}"

- name: App-only token by client credentials, cached on the controller for its lifetime
  ansible.builtin.set_fact:
    graph_token: "{{ lookup('xoauth2.mail.oauth_token', provider='microsoft', tenant_id=m365_tenant,
                            client_id=m365_client_id, client_secret=vault_m365_secret,
                            scopes=['https://graph.microsoft.com/.default']) }}"
  no_log: true

- name: Options from variables (xoauth2_mail_encryption_key_file, xoauth2_mail_min_validity, ...)
  ansible.builtin.debug:
    msg: "{{ lookup('xoauth2.mail.oauth_token', 'files/alerts.token') | length }} characters"
  vars:
    xoauth2_mail_encryption_key_file: ~/.xoauth2/key
    xoauth2_mail_min_validity: 900
"""

RETURN = r"""
_raw:
  description:
    - One value per term (or one without terms), in the form O(output) asks for. Treat it as a secret.
  type: list
  elements: str
"""

import os
import time
from typing import Any, Dict, Optional, Sequence, Tuple

from ansible import constants as C
from ansible.errors import AnsibleLookupError
from ansible.module_utils.basic import missing_required_lib
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

from ansible_collections.xoauth2.mail.plugins.module_utils._crypto import key_id
from ansible_collections.xoauth2.mail.plugins.module_utils._dependencies import MissingDependency, require
from ansible_collections.xoauth2.mail.plugins.module_utils._errors import ConfigurationError, OAuthMailError
from ansible_collections.xoauth2.mail.plugins.module_utils._fresh_token import (
    create_provider,
    error_result,
    fresh_record,
)
from ansible_collections.xoauth2.mail.plugins.module_utils._options import (
    OptionGetter,
    getter_from_dict,
    getter_from_plugin,
    keys_from_options,
    min_validity_from_options,
    settings_from_options,
)
from ansible_collections.xoauth2.mail.plugins.module_utils._session import TokenSession
from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile
from ansible_collections.xoauth2.mail.plugins.module_utils._token_record import TokenRecord
from ansible_collections.xoauth2.mail.plugins.module_utils._xoauth2 import xoauth2_initial_response
from ansible_collections.xoauth2.mail.plugins.plugin_utils._controller_cache import (
    cache_file_name,
    cache_key,
    ensure_cache_dir,
)

display = Display()

# Per worker process (Ansible forks a worker per host and task; templating may
# call a lookup many times in one worker):
# - one TokenFile per (path, key id): TokenFile keeps the decrypted record while
#   the file's inode, size and mtime are unchanged, so a valid token is not
#   decrypted again;
# - the resolved options per distinct input (direct options, our variables, our
#   environment variables): resolving 20 options through the config manager
#   costs more than everything else on the valid-token path;
# - the record last found valid per (file, key, options): when the file gives
#   back the very same record, only its expiry needs checking again.
_TOKEN_FILES: Dict[Tuple[str, str, Tuple[str, ...]], TokenFile] = {}
_OPTIONS: Dict[str, Dict[str, Any]] = {}
_KEPT: Dict[Tuple[str, str, str], TokenRecord] = {}
_SOURCES: Dict[str, Tuple[Tuple[str, ...], Tuple[str, ...]]] = {}
_NAMES: Dict[str, Tuple[str, ...]] = {}
CACHE_LIMIT = 256


def _token_file(path: str, key: bytes, previous: Sequence[bytes] = ()) -> TokenFile:
    slot = (path, key_id(key), tuple(key_id(k) for k in previous))
    token_file = _TOKEN_FILES.get(slot)
    if token_file is None:
        if len(_TOKEN_FILES) >= CACHE_LIMIT:
            _TOKEN_FILES.clear()
        token_file = _TOKEN_FILES[slot] = TokenFile(path, key, previous_keys=previous)
    return token_file


def _signature(kwargs: Dict[str, Any], ours: Dict[str, Any], env_names: Sequence[str]) -> Optional[str]:
    """Everything the options can come from, as a memo key (None: a value without a usable repr, no memo)."""
    try:
        return repr((sorted(kwargs.items()), sorted(ours.items()), [os.environ.get(name) for name in env_names]))
    except Exception:
        return None


def _remember(signature: Optional[str], options: Dict[str, Any]) -> None:
    if signature is not None:
        if len(_OPTIONS) >= CACHE_LIMIT:
            _OPTIONS.clear()
        _OPTIONS[signature] = options


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        signature, get = self._load_options(variables, kwargs)
        try:
            require("cryptography")
            if terms:
                return [self._from_file(term, variables, get, signature) for term in terms]
            return [self._from_client_credentials(get)]
        except (MissingDependency, OAuthMailError) as error:
            raise AnsibleLookupError(self._failure_text(error_result(error, missing_required_lib))) from None

    # -- options -------------------------------------------------------------------

    def _sources(self) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
        """Names of the variables and environment variables our options read."""
        sources = _SOURCES.get(self._load_name)
        if sources is None:
            definitions = C.config.get_configuration_definitions(plugin_type="lookup", name=self._load_name)
            var_names = sorted({entry["name"] for item in definitions.values() for entry in (item.get("vars") or [])})
            env_names = sorted({entry["name"] for item in definitions.values() for entry in (item.get("env") or [])})
            sources = _SOURCES[self._load_name] = (tuple(var_names), tuple(env_names))
        return sources

    def _load_options(self, variables, kwargs) -> Tuple[Optional[str], OptionGetter]:
        """The resolved options and a getter over them, memoized on everything they can come from.

        Only the public option API is used (set_options, then get_option once per option), so the memo
        holds on every ansible-core in the supported range; ansible.cfg is fixed for a run.
        """
        variables = variables or {}
        try:
            var_names, env_names = self._sources()
        except Exception:  # anything unusual: no memo, the config manager decides as always
            self.set_options(var_options=variables, direct=kwargs)
            return None, getter_from_plugin(self)
        ours = self._our_variables(variables, var_names)
        signature = _signature(kwargs, ours, env_names)
        options = _OPTIONS.get(signature) if signature is not None else None
        if options is None:
            self.set_options(var_options=ours, direct=kwargs)
            plugin_get = getter_from_plugin(self)
            options = {name: plugin_get(name) for name in self._option_names()}
            _remember(signature, options)
        return signature, getter_from_dict(options)

    def _our_variables(self, variables, var_names) -> Dict[str, Any]:
        ours = {name: variables[name] for name in var_names if name in variables}
        templar = getattr(self, "_templar", None)
        if ours and templar is not None:
            # Ansible hands lookups the variables untemplated: xoauth2_mail_encryption_key: "{{ vault_key }}"
            # must reach the option as the key, as it would anywhere else in a play.
            ours = templar.template(ours)
        return ours

    def _option_names(self) -> Tuple[str, ...]:
        names = _NAMES.get(self._load_name)
        if names is None:
            definitions = C.config.get_configuration_definitions(plugin_type="lookup", name=self._load_name)
            names = _NAMES[self._load_name] = tuple(name for name in definitions if name != "_terms")
        return names

    # -- sources -------------------------------------------------------------------

    def _from_file(self, term, variables, get, signature) -> str:
        path = self.find_file_in_search_path(variables, "files", term, ignore_missing=True)
        path = os.path.abspath(os.path.expanduser(path or term))
        key, previous = keys_from_options(get)
        token_file = _token_file(path, key, previous)
        slot = (path, key_id(key), signature) if signature is not None else None
        if slot is not None and slot in _KEPT:
            record = token_file.read()
            if record is not None and record is _KEPT[slot] and \
                    record.is_valid_for(min_validity_from_options(get), time.time()):
                return self._format(record, get)
        settings = settings_from_options(get)
        # username names the token's mailbox in settings; here it only overrides the XOAUTH2 user.
        settings.username = None
        record = self._ensure(TokenSession(settings, token_file, provider_factory=create_provider), get)
        if slot is not None:
            if len(_KEPT) >= CACHE_LIMIT:
                _KEPT.clear()
            _KEPT[slot] = record
        return self._format(record, get)

    def _from_client_credentials(self, get) -> str:
        settings = settings_from_options(get)
        if not settings.has_client_credential:
            raise ConfigurationError(
                "Give a token file as term, or client_secret (or client_certificate) with provider and client_id "
                "to acquire a token by client credentials.", option="client_secret")
        identity = settings.resolved().identity()
        folder = ensure_cache_dir(get("cache_dir"))
        if get("encryption_key") or get("encryption_key_file"):
            # The cache file's name depends on the key: a new key starts a new cache entry, nothing to re-seal.
            key = keys_from_options(get)[0]
        else:
            key = cache_key(folder)
        token_file = _token_file(os.path.join(folder, cache_file_name(identity, key)), key)
        record = self._ensure(TokenSession(settings, token_file, provider_factory=create_provider), get,
                              must_exist=False)
        return self._format(record, get)

    # -- shared --------------------------------------------------------------------

    @staticmethod
    def _failure_text(failure: Dict[str, Any]) -> str:
        if "exception" in failure:  # a missing library
            return "oauth_token: %s" % failure["msg"]
        code = " [%s]" % failure["error_code"] if failure.get("error_code") else ""
        return "oauth_token failed (error_category=%s%s): %s" % (failure["error_category"], code, failure["msg"])

    @staticmethod
    def _ensure(session: TokenSession, get, must_exist: bool = True) -> TokenRecord:
        outcome = fresh_record(session, min_validity_from_options(get), must_exist=must_exist)
        for warning in outcome.warnings:
            display.warning("oauth_token: %s" % warning)
        return outcome.record

    @staticmethod
    def _format(record: TokenRecord, get) -> str:
        token = record.access_token
        output = get("output") or "access_token"
        if output == "bearer":
            return "Bearer %s" % token
        if output == "xoauth2":
            username = get("username") or record.meta.get("username")
            if not username:
                raise ConfigurationError(
                    "output=xoauth2 needs the mailbox: the token file names none, so set username.",
                    option="username")
            return xoauth2_initial_response(username, token)
        return token
