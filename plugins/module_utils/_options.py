# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Options shared by the module and the lookup, declared once.

As in community.hashi_vault: the module builds its argument spec from
``TOKEN_ARGUMENT_SPEC`` (documented by the ``xoauth2.mail.token`` doc
fragment), and every adapter reads options through one getter, so the core
receives the same ``TokenSettings`` from ``module.params`` or ``get_option``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Tuple

from ._crypto import load_key, load_keys
from ._errors import ConfigurationError
from ._settings import FLOWS, PROVIDERS, TokenSettings

OptionGetter = Callable[[str], Any]

# The one source of the shared defaults. The doc fragment (plugins/doc_fragments/token.py) repeats them as
# YAML, which ansible-doc reads without running code; tests/unit/plugins/module_utils/test_option_defaults.py
# keeps the two equal.
OPTION_DEFAULTS: Dict[str, Any] = {
    "min_validity": 600,
    "validate_certs": True,
    "timeout": 30,
    "retries": 3,
}

TOKEN_ARGUMENT_SPEC: Dict[str, Dict[str, Any]] = {
    "provider": {"type": "str", "choices": list(PROVIDERS)},
    "flow": {"type": "str", "choices": list(FLOWS)},
    "tenant_id": {"type": "str"},
    "authority": {"type": "str"},
    "client_id": {"type": "str"},
    "client_secret": {"type": "str", "no_log": True},
    "client_certificate": {"type": "path"},
    "client_certificate_password": {"type": "str", "no_log": True},
    "scopes": {"type": "list", "elements": "str"},
    "encryption_key": {"type": "str", "no_log": True},
    "encryption_key_file": {"type": "path", "no_log": False},
    "previous_encryption_keys": {"type": "list", "elements": "str", "no_log": True},
    "min_validity": {"type": "int", "default": OPTION_DEFAULTS["min_validity"]},
    "validate_certs": {"type": "bool", "default": OPTION_DEFAULTS["validate_certs"]},
    "ca_path": {"type": "path"},
    "timeout": {"type": "int", "default": OPTION_DEFAULTS["timeout"]},
    "retries": {"type": "int", "default": OPTION_DEFAULTS["retries"]},
}


def token_argument_spec(without: Tuple[str, ...] = (), **extra: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    """A module's argument spec: the shared options (less ``without``) plus its own."""
    spec = {name: dict(option) for name, option in TOKEN_ARGUMENT_SPEC.items() if name not in without}
    spec.update(extra)
    return spec


SETTINGS_OPTIONS = (
    "provider", "flow", "tenant_id", "authority", "client_id", "client_secret", "client_certificate",
    "client_certificate_password", "refresh_token", "scopes", "username", "validate_certs", "ca_path",
    "timeout", "retries",
    "service_account_key", "service_account_key_file",
)


def getter_from_dict(values: Dict[str, Any]) -> OptionGetter:
    return values.get


def getter_from_plugin(plugin: Any) -> OptionGetter:
    """Read options of a lookup/action plugin; options it does not have read as None."""
    def get(name: str) -> Any:
        try:
            return plugin.get_option(name)
        except KeyError:
            return None
    return get


# A blank credential is almost always an empty vault variable: say so, never send it.
BLANK_IS_ERROR = ("client_secret", "refresh_token", "client_certificate_password", "service_account_key")


def settings_from_options(get: OptionGetter) -> TokenSettings:
    values = {name: get(name) for name in SETTINGS_OPTIONS}
    for name in BLANK_IS_ERROR:
        value = values[name]
        if isinstance(value, str) and not value.strip():
            raise ConfigurationError(
                "%s is empty; give its value or leave the option out." % name, option=name)
    for name in ("validate_certs", "timeout", "retries"):
        if values[name] is None:
            values[name] = OPTION_DEFAULTS[name]
    return TokenSettings(**values)


def min_validity_from_options(get: OptionGetter) -> int:
    value = get("min_validity")
    return OPTION_DEFAULTS["min_validity"] if value is None else int(value)


def key_from_options(get: OptionGetter) -> bytes:
    """The current key only (readers that never re-seal a file)."""
    return load_key(get("encryption_key"), get("encryption_key_file"))


def keys_from_options(get: OptionGetter) -> Tuple[bytes, List[bytes]]:
    """The current key and the previous keys (the key file's later lines, then previous_encryption_keys)."""
    previous = get("previous_encryption_keys")
    if isinstance(previous, str):
        previous = [previous]
    return load_keys(get("encryption_key"), get("encryption_key_file"), previous or None)


# Notices of state changes (module only; documented by the xoauth2.mail.notify doc fragment).
NOTICE_ARGUMENT_SPEC: Dict[str, Dict[str, Any]] = {
    "notify_command": {"type": "list", "elements": "str"},
    "notify_webhook_url": {"type": "str", "no_log": True},
    "notify_webhook_token": {"type": "str", "no_log": True},
    "notify_webhook_ca_path": {"type": "path"},
    "notify_timeout": {"type": "int", "default": 10},
    "notify_fix": {"type": "str"},
    "notify_account": {"type": "str"},
}


def notifier_from_options(get: OptionGetter, token_path: str):
    """A checked Notifier for the token at ``token_path``, or None when no notice is configured."""
    from ._notify import NoticeSettings, Notifier
    command, url = get("notify_command"), get("notify_webhook_url")
    if isinstance(url, str) and not url.strip():
        raise ConfigurationError("notify_webhook_url is empty; give its value or leave the option out.",
                                 option="notify_webhook_url")
    if not command and not url:
        return None
    timeout = get("notify_timeout")
    settings = NoticeSettings(command=list(command) if command else None, webhook_url=url,
                              webhook_token=get("notify_webhook_token") or None,
                              webhook_ca_path=get("notify_webhook_ca_path") or None,
                              timeout=10 if timeout is None else timeout, fix=get("notify_fix") or None,
                              account=get("notify_account") or None).check()
    return Notifier(settings, token_path)
