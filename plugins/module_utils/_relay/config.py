# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The helper's configuration file (JSON), validated at load with errors naming the key.

JSON because it needs nothing beyond the standard library on the host (YAML
would need PyYAML). The schema is documented in docs/relay-helper.md; every
key not listed in ``_TOP``/``_ACCOUNT``/... is refused, so a typo is an error
rather than a silently ignored setting.
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from .._crypto import read_key_file
from .._dependencies import MissingDependency, require, require_installed
from .._errors import ConfigurationError, OAuthMailError
from .._provider_endpoints import providers_with_servers, resolve_server
from .._settings import PROVIDERS
from .auth_guard import AuthSettings
from .secrets import SecretVerifier, parse_hash

DEFAULT_CONFIG = "/etc/xoauth2-relay/config.json"
DEFAULT_LISTEN = "127.0.0.1:10587"
LOG_LEVELS = ("debug", "info", "warning", "error")
BARE_NEWLINES = ("reject", "normalize")
SECURITY = ("starttls", "tls")


class ConfigError(Exception):
    """A bad configuration: the message starts with the key at fault."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__("%s: %s" % (key, message))
        self.key = key


@dataclass
class Upstream:
    host: str
    port: int
    security: str
    ca_file: Optional[str] = None
    server_hostname: Optional[str] = None


@dataclass
class Account:
    name: str
    username: Optional[str]
    token_file: str
    key_file: str
    upstream: Upstream
    local_username: str
    verifier: SecretVerifier = field(repr=False)
    provider_ca_file: Optional[str] = None
    min_validity: int = 600
    # the token's identity provider, when given: it chooses the upstream defaults (smtp.gmail.com...)
    provider: Optional[str] = None
    key: bytes = field(default=b"", repr=False)
    # keys of a rotation in progress (the key file's lines after the first): read, never written
    previous_keys: List[bytes] = field(default_factory=list, repr=False)
    # what decides whether a reload may keep this account's pool and token keeper
    fingerprint: Tuple = field(default=(), repr=False)


@dataclass
class Timeouts:
    client: float = 300.0
    connect: float = 30.0
    command: float = 120.0
    data: float = 600.0
    token: float = 30.0
    shutdown: float = 30.0
    auth: float = 30.0
    session: float = 3600.0


@dataclass
class Config:
    path: str
    listen_host: str
    listen_port: int
    allow_non_loopback: bool
    hostname: str
    tls_cert_file: Optional[str]
    tls_key_file: Optional[str]
    log_level: str
    min_validity: int
    keepalive_interval: int
    token_retries: int
    token_retry_backoff: float
    max_message_size: int
    max_recipients: int
    max_sessions: int
    pool_size: int
    pool_idle_timeout: float
    metrics_file: Optional[str]
    metrics_interval: float
    timeouts: Timeouts
    accounts: List[Account]
    auth: AuthSettings = field(default_factory=AuthSettings)
    # a bare LF in a message or ending a command: "reject" (default) or "normalize" to CRLF
    bare_newlines: str = "reject"
    # notices of token state changes (a _notify.NoticeSettings), or None
    notify: Optional[Any] = None

    def account(self, name: str) -> Account:
        for account in self.accounts:
            if account.name == name:
                return account
        raise KeyError(name)

    def by_local_username(self, username: str) -> Optional[Account]:
        for account in self.accounts:
            if account.local_username == username:
                return account
        return None


_TOP = {"listen", "allow_non_loopback", "hostname", "tls_cert_file", "tls_key_file", "log_level",
        "min_validity", "keepalive_interval", "token_retries", "token_retry_backoff", "max_message_size",
        "max_recipients", "max_sessions", "pool", "metrics_file", "metrics_interval", "timeouts", "accounts",
        "auth", "bare_newlines", "notify"}
_NOTIFY = {"command", "webhook_url", "webhook_token", "webhook_ca_file", "timeout", "retry_interval", "fix"}
_POOL = {"size", "idle_timeout"}
_TIMEOUTS = {"client", "connect", "command", "data", "token", "shutdown", "auth", "session"}
# (minimum, maximum, integer) of each key of "auth"
_AUTH = {"failure_delay": (0, 30, False), "max_delay": (0, 300, False), "lockout_after": (1, 1000, True),
         "global_lockout_after": (1, 100000, True), "window": (1, 86400, False),
         "lockout_time": (0, 86400, False), "log_interval": (1, 86400, False), "hash_workers": (1, 16, True),
         "max_unauthenticated": (1, 100000, True)}
_ACCOUNT = {"name", "username", "token_file", "key_file", "upstream", "local_username", "local_secret",
            "local_secret_file", "local_secret_hash", "provider_ca_file", "min_validity", "provider"}
_UPSTREAM = {"host", "port", "security", "ca_file", "server_hostname"}


def _check_keys(data: Any, allowed, where: str) -> Dict[str, Any]:
    if not isinstance(data, dict):
        raise ConfigError(where or "(top level)", "must be a JSON object")
    for key in data:
        if key not in allowed:
            raise ConfigError("%s%s" % (where + "." if where else "", key),
                              "unknown key (allowed: %s)" % ", ".join(sorted(allowed)))
    return data


def _str(data, key, where, required=False, default=None) -> Optional[str]:
    value = data.get(key, default)
    name = "%s%s" % (where + "." if where else "", key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ConfigError(name, "is required")
        return default
    if not isinstance(value, str):
        raise ConfigError(name, "must be a string")
    return value.strip()


def _num(data, key, where, default, minimum=0, integer=False, maximum=None):
    value = data.get(key, default)
    name = "%s%s" % (where + "." if where else "", key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise ConfigError(name, "must be %s" % ("an integer" if integer else "a number"))
    if value < minimum or (maximum is not None and value > maximum):
        raise ConfigError(name, "must be between %s and %s" % (minimum, maximum) if maximum is not None
                          else "must be at least %s" % minimum)
    return value


def _bool(data, key, where, default=False) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError("%s%s" % (where + "." if where else "", key), "must be true or false")
    return value


def _readable(path: str, key: str) -> str:
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        raise ConfigError(key, "%s is not a readable file" % path)
    return path


def parse_listen(text: str, allow_non_loopback: bool) -> Tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise ConfigError("listen", "must be HOST:PORT, e.g. %s" % DEFAULT_LISTEN)
    host = host.strip("[]")
    try:
        port_number = int(port)
    except ValueError:
        raise ConfigError("listen", "port %r is not a number" % port)
    if not 0 <= port_number <= 65535:
        raise ConfigError("listen", "port must be 0-65535")
    if host == "localhost":
        loopback = True
    else:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            raise ConfigError("listen", "host must be an IP address or localhost, got %r" % host)
    if not loopback and not allow_non_loopback:
        raise ConfigError("listen", "%s is not a loopback address; set allow_non_loopback: true (and "
                                    "tls_cert_file/tls_key_file) to listen on it" % host)
    return host, port_number


def _upstream(data, where, provider=None) -> Upstream:
    """The upstream server; without ``host``, the provider's own (smtp.gmail.com:587 for google...)."""
    _check_keys(data, _UPSTREAM, where)
    security = _str(data, "security", where)
    if security is not None and security not in SECURITY:
        raise ConfigError(where + ".security", "must be starttls or tls (a token never goes over plaintext)")
    try:
        server = resolve_server("smtp", _str(data, "host", where), None, security, provider)
    except ConfigurationError:
        raise ConfigError(where + ".host", "is required (only a provider of %s has a default upstream; "
                                           "provider is %s)" % (providers_with_servers(), provider or "not set"))
    host, security = server.host, server.security
    port = _num(data, "port", where, server.port, 1, True, 65535)
    ca_file = _str(data, "ca_file", where)
    if ca_file:
        ca_file = _readable(ca_file, where + ".ca_file")
    return Upstream(host=host, port=port, security=security, ca_file=ca_file,
                    server_hostname=_str(data, "server_hostname", where))


def _account(data, index, default_min_validity, seen_names, seen_users) -> Account:
    where = "accounts[%d]" % index
    _check_keys(data, _ACCOUNT, where)
    name = _str(data, "name", where, required=True)
    if name in seen_names:
        raise ConfigError(where + ".name", "duplicate account name %r" % name)
    local_username = _str(data, "local_username", where, default=name)
    if local_username in seen_users:
        raise ConfigError(where + ".local_username", "duplicate local_username %r" % local_username)
    given = [k for k in ("local_secret", "local_secret_file", "local_secret_hash") if data.get(k)]
    if len(given) != 1:
        raise ConfigError(where + ".local_secret",
                          "give exactly one of local_secret, local_secret_file, local_secret_hash")
    if given[0] == "local_secret_hash":
        text = _str(data, "local_secret_hash", where)
        try:
            parse_hash(text)
        except ValueError as exc:
            raise ConfigError(where + ".local_secret_hash", str(exc))
        verifier = SecretVerifier(stored_hash=text)
    elif given[0] == "local_secret_file":
        path = _readable(_str(data, "local_secret_file", where), where + ".local_secret_file")
        with open(path, "r", encoding="utf-8") as handle:
            secret = handle.read().strip()
        if not secret:
            raise ConfigError(where + ".local_secret_file", "%s is empty" % path)
        verifier = SecretVerifier(plaintext=secret)
    else:
        verifier = SecretVerifier(plaintext=_str(data, "local_secret", where))
    token_file = os.path.abspath(os.path.expanduser(_str(data, "token_file", where, required=True)))
    key_file = _readable(_str(data, "key_file", where, required=True), where + ".key_file")
    try:
        keys = read_key_file(key_file)
    except OAuthMailError as exc:
        raise ConfigError(where + ".key_file", exc.message)
    key, previous_keys = keys[0], keys[1:]
    try:
        # the keys open nothing without cryptography, and renewals need requests: say so at load
        # (requests is only located and its version read here: importing it would cost memory before any renewal)
        require("cryptography")
        require_installed("requests")
    except MissingDependency as exc:
        raise ConfigError(where + ".key_file", "the token file cannot be used: %s is needed, %s"
                          % (exc.requirement, exc.reason))
    provider_ca = _str(data, "provider_ca_file", where)
    if provider_ca:
        provider_ca = _readable(provider_ca, where + ".provider_ca_file")
    provider = _str(data, "provider", where)
    if provider is not None and provider not in PROVIDERS:
        raise ConfigError(where + ".provider", "must be one of %s" % ", ".join(PROVIDERS))
    upstream = _upstream(data.get("upstream", {}), where + ".upstream", provider)
    min_validity = _num(data, "min_validity", where, default_min_validity, 0, True)
    username = _str(data, "username", where)
    account = Account(name=name, username=username, token_file=token_file, key_file=key_file,
                      upstream=upstream, local_username=local_username, verifier=verifier,
                      provider_ca_file=provider_ca, min_validity=min_validity, provider=provider, key=key,
                      previous_keys=previous_keys)
    account.fingerprint = (username, token_file, key, tuple(previous_keys), provider_ca, min_validity,
                           upstream.host, upstream.port, upstream.security, upstream.ca_file,
                           upstream.server_hostname)
    seen_names.add(name)
    seen_users.add(local_username)
    return account


def _auth(data) -> AuthSettings:
    section = _check_keys(data.get("auth", {}), _AUTH, "auth")
    defaults = AuthSettings()
    values = {name: _num(section, name, "auth", getattr(defaults, name), low, integer, high)
              for name, (low, high, integer) in _AUTH.items()}
    if values["max_delay"] < values["failure_delay"]:
        raise ConfigError("auth.max_delay", "must be at least auth.failure_delay (%s)" % values["failure_delay"])
    return AuthSettings(**values)


def _notify(data) -> Optional[Any]:
    """The ``notify`` section: a checked NoticeSettings, or None when it names no command and no webhook."""
    from .._notify import NoticeSettings
    section = _check_keys(data.get("notify", {}), _NOTIFY, "notify")
    command = section.get("command")
    if isinstance(command, str):
        command = [command]  # a program without arguments
    url = _str(section, "webhook_url", "notify")
    if not command and not url:
        return None
    ca_file = _str(section, "webhook_ca_file", "notify")
    settings = NoticeSettings(
        command=command or None, webhook_url=url, webhook_token=_str(section, "webhook_token", "notify"),
        webhook_ca_path=_readable(ca_file, "notify.webhook_ca_file") if ca_file else None,
        timeout=_num(section, "timeout", "notify", 10, 1, False, 3600),
        retry_interval=_num(section, "retry_interval", "notify", 60, 1, False, 3600),
        fix=_str(section, "fix", "notify"),
        option=lambda name: "notify." + ("webhook_ca_file" if name == "webhook_ca_path" else name))
    try:
        return settings.check()
    except OAuthMailError as exc:
        raise ConfigError(exc.option or "notify", exc.message)


def parse_config(data: Any, path: str = "<config>") -> Config:
    _check_keys(data, _TOP, "")
    allow = _bool(data, "allow_non_loopback", "")
    host, port = parse_listen(_str(data, "listen", "", default=DEFAULT_LISTEN), allow)
    log_level = (_str(data, "log_level", "", default="info") or "info").lower()
    if log_level not in LOG_LEVELS:
        raise ConfigError("log_level", "must be one of %s" % ", ".join(LOG_LEVELS))
    bare_newlines = _str(data, "bare_newlines", "", default="reject")
    if bare_newlines not in BARE_NEWLINES:
        raise ConfigError("bare_newlines", "must be reject or normalize")
    cert = _str(data, "tls_cert_file", "")
    key = _str(data, "tls_key_file", "")
    if bool(cert) != bool(key):
        raise ConfigError("tls_cert_file", "tls_cert_file and tls_key_file go together")
    if cert:
        cert = _readable(cert, "tls_cert_file")
        key = _readable(key, "tls_key_file")
    elif allow:
        # clients off this host must STARTTLS before AUTH: without a certificate none could ever log in
        raise ConfigError("allow_non_loopback", "needs tls_cert_file and tls_key_file: clients on other hosts "
                                                "must use STARTTLS before AUTH")
    min_validity = _num(data, "min_validity", "", 600, 0, True)
    pool = _check_keys(data.get("pool", {}), _POOL, "pool")
    timeouts_data = _check_keys(data.get("timeouts", {}), _TIMEOUTS, "timeouts")
    defaults = Timeouts()
    timeouts = Timeouts(**{name: float(_num(timeouts_data, name, "timeouts", getattr(defaults, name), 0.1))
                           for name in _TIMEOUTS})
    accounts_data = data.get("accounts")
    if not isinstance(accounts_data, list) or not accounts_data:
        raise ConfigError("accounts", "must be a non-empty list of accounts")
    names: "set[str]" = set()
    users: "set[str]" = set()
    accounts = [_account(item, index, min_validity, names, users) for index, item in enumerate(accounts_data)]
    metrics_file = _str(data, "metrics_file", "")
    return Config(
        path=path, listen_host=host, listen_port=port, allow_non_loopback=allow,
        hostname=_str(data, "hostname", "", default="xoauth2-relay.localhost"),
        tls_cert_file=cert, tls_key_file=key, log_level=log_level, min_validity=min_validity,
        keepalive_interval=_num(data, "keepalive_interval", "", 86400, 60, True),
        token_retries=_num(data, "token_retries", "", 2, 0, True, 10),
        token_retry_backoff=float(_num(data, "token_retry_backoff", "", 10, 0)),
        max_message_size=_num(data, "max_message_size", "", 35 * 1024 * 1024, 1024, True),
        max_recipients=_num(data, "max_recipients", "", 500, 1, True),
        max_sessions=_num(data, "max_sessions", "", 200, 1, True),
        pool_size=_num(pool, "size", "pool", 4, 1, True, 100),
        pool_idle_timeout=float(_num(pool, "idle_timeout", "pool", 60, 0)),
        metrics_file=os.path.abspath(metrics_file) if metrics_file else None,
        metrics_interval=float(_num(data, "metrics_interval", "", 15, 1)),
        timeouts=timeouts, accounts=accounts, auth=_auth(data), bare_newlines=bare_newlines, notify=_notify(data))


def load_config(path: str) -> Config:
    try:
        with open(path, "r", encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigError("(file)", "cannot read %s: %s" % (path, exc.strerror or exc))
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError("(file)", "%s is not valid JSON: %s" % (path, exc))
    return parse_config(data, path)
