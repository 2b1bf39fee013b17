# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The plain settings object every adapter hands to the core, and its validation."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from ._errors import ConfigurationError

PROVIDERS = ("microsoft", "oidc", "google")
FLOWS = ("client_credentials", "refresh_token", "device_code", "service_account", "auth_code")
DELEGATED_FLOWS = ("refresh_token", "device_code", "auth_code")
# Flows that need a person to sign in (driven by the action plugin, never by the lookup).
INTERACTIVE_FLOWS = ("device_code", "auth_code")

MICROSOFT_LOGIN = "https://login.microsoftonline.com"
MICROSOFT_APP_SCOPES = ["https://outlook.office365.com/.default"]
MICROSOFT_DELEGATED_SCOPES = ["https://outlook.office.com/SMTP.Send", "offline_access"]
# Google's issuer; its endpoints are built in (_provider_google.py), any other authority stands in for it.
GOOGLE_ISSUER = "https://accounts.google.com"
# IMAP, SMTP and POP; Google's device flow does not accept it.
GOOGLE_MAIL_SCOPE = "https://mail.google.com/"

# Fields that say which token this is: a stored token made with other values is not reused.
IDENTITY_FIELDS = ("provider", "authority", "client_id", "flow", "scopes", "username")


def _clean(value: Any) -> Any:
    """Empty strings count as missing, so a blank secret is never sent."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


@dataclass
class TokenSettings:
    provider: Optional[str] = None
    flow: Optional[str] = None
    authority: Optional[str] = None
    tenant_id: Optional[str] = None
    client_id: Optional[str] = None
    client_secret: Optional[str] = field(default=None, repr=False)
    client_certificate: Optional[str] = None
    client_certificate_password: Optional[str] = field(default=None, repr=False)
    refresh_token: Optional[str] = field(default=None, repr=False)
    scopes: Optional[List[str]] = None
    username: Optional[str] = None
    validate_certs: bool = True
    ca_path: Optional[str] = None
    timeout: float = 30
    retries: int = 3
    # flow service_account: the JSON key file of a Google Cloud service account, as content or path.
    service_account_key: Optional[Any] = field(default=None, repr=False)
    service_account_key_file: Optional[str] = None

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            setattr(self, item.name, _clean(getattr(self, item.name)))
        if self.scopes is not None:
            if isinstance(self.scopes, str):
                self.scopes = self.scopes.replace(",", " ").split()
            self.scopes = [s.strip() for s in self.scopes if s and s.strip()] or None

    @property
    def has_client_credential(self) -> bool:
        return bool(self.client_secret or self.client_certificate)

    @property
    def has_service_account_key(self) -> bool:
        return bool(self.service_account_key or self.service_account_key_file)

    def check_basics(self) -> None:
        """Checks that need no token file."""
        if self.provider is not None and self.provider not in PROVIDERS:
            raise ConfigurationError(
                "provider must be one of %s, got %r." % (", ".join(PROVIDERS), self.provider), option="provider")
        if self.flow is not None and self.flow not in FLOWS:
            raise ConfigurationError(
                "flow must be one of %s, got %r." % (", ".join(FLOWS), self.flow), option="flow")
        if self.timeout is None or float(self.timeout) <= 0:
            raise ConfigurationError("timeout must be a positive number of seconds.", option="timeout")
        if self.retries is None or int(self.retries) < 0:
            raise ConfigurationError("retries must be 0 or more.", option="retries")
        if self.client_secret and self.client_certificate:
            raise ConfigurationError(
                "client_secret and client_certificate are mutually exclusive; give one.", option="client_secret")
        if self.service_account_key and self.service_account_key_file:
            raise ConfigurationError(
                "service_account_key and service_account_key_file are mutually exclusive; give one.",
                option="service_account_key")

    def resolved(self, meta: Optional[Dict[str, Any]] = None) -> "TokenSettings":
        """Fill what was not given from a stored token's metadata, then defaults; validate."""
        self.check_basics()
        values = dataclasses.asdict(self)
        meta = meta or {}
        for name in ("provider", "client_id", "authority", "tenant_id", "username", "scopes"):
            if values[name] is None and meta.get(name) is not None:
                values[name] = meta[name]
        if values["flow"] is None:
            if self.refresh_token:
                values["flow"] = "refresh_token"
            elif self.has_service_account_key:
                values["flow"] = "service_account"
            elif meta.get("flow"):
                values["flow"] = meta["flow"]
            elif self.has_client_credential:
                values["flow"] = "client_credentials"
        _fill_service_account(self, values)
        result = TokenSettings(**values)
        if result.provider == "google" or result.flow == "service_account":
            result._check_google()
        result._require_complete()
        if result.scopes is None:
            result.scopes = result._default_scopes()
        if result.authority is None and result.provider == "microsoft":
            result.authority = "%s/%s" % (MICROSOFT_LOGIN, result.tenant_id)
        return result

    def _require_complete(self) -> None:
        if self.provider is None:
            raise ConfigurationError("provider is required (one of %s)." % ", ".join(PROVIDERS), option="provider")
        if self.client_id is None:
            raise ConfigurationError("client_id is required.", option="client_id")
        if self.flow is None:
            raise ConfigurationError(
                "flow could not be inferred: give client_secret (or client_certificate) for client_credentials, "
                "or refresh_token to seed a delegated token, or set flow.", option="flow")
        if self.provider == "microsoft" and self.authority is None and self.tenant_id is None:
            raise ConfigurationError(
                "tenant_id is required for provider microsoft unless authority is given.", option="tenant_id")
        if self.provider == "oidc" and self.authority is None:
            raise ConfigurationError(
                "authority (the issuer URL) is required for provider oidc.", option="authority")
        if self.authority is not None and not self.authority.startswith(("https://", "http://")):
            raise ConfigurationError("authority must be an https:// URL, got %r." % self.authority, option="authority")
        if self.flow == "device_code" and self.provider == "microsoft" and self.has_client_credential:
            raise ConfigurationError(
                "flow device_code uses a public client for provider microsoft: leave out client_secret and "
                "client_certificate (and allow public client flows in the app registration).", option="client_secret")
        if self.client_certificate and self.provider != "microsoft":
            raise ConfigurationError(
                "client_certificate is supported for provider microsoft only.", option="client_certificate")

    def _default_scopes(self) -> Optional[List[str]]:
        if self.provider == "microsoft":
            if self.flow == "client_credentials":
                return list(MICROSOFT_APP_SCOPES)
            return list(MICROSOFT_DELEGATED_SCOPES)
        if self.provider == "google":
            return [GOOGLE_MAIL_SCOPE]
        return None

    def _check_google(self) -> None:
        """Google's default issuer; what Google does not offer, refused before any request."""
        if self.authority is None and self.provider == "google":
            self.authority = GOOGLE_ISSUER
        if self.flow == "service_account":
            if self.client_id is None:
                raise ConfigurationError(
                    "service_account_key_file (or service_account_key) is required for flow service_account.",
                    option="service_account_key_file")
            if self.provider != "google":
                raise ConfigurationError(
                    "flow service_account (a Workspace service account) needs provider google.", option="provider")
            if not self.username:
                raise ConfigurationError(
                    "username (the Workspace mailbox the service account acts for) is required for flow "
                    "service_account.", option="username")
            if self.has_client_credential:
                raise ConfigurationError(
                    "flow service_account signs with the service account's key: leave out client_secret.",
                    option="client_secret")
        if self.flow == "client_credentials":
            raise ConfigurationError(
                "Google has no client credentials grant: use flow service_account (a Workspace service account "
                "with domain-wide delegation) or flow refresh_token (a user's grant).", option="flow")
        if self.flow == "device_code" and GOOGLE_MAIL_SCOPE in (self.scopes or [GOOGLE_MAIL_SCOPE]):
            raise ConfigurationError(
                "Google's device flow does not accept the scope %s: use flow auth_code (a browser sign-in on the "
                "controller), or seed a refresh_token (flow refresh_token)." % GOOGLE_MAIL_SCOPE, option="flow")

    def identity(self) -> Dict[str, Any]:
        return {
            "provider": self.provider,
            "authority": self.authority,
            "client_id": self.client_id,
            "flow": self.flow,
            "scopes": sorted(self.scopes) if self.scopes else None,
            "username": self.username,
        }

    def mismatches(self, meta: Dict[str, Any]) -> List[str]:
        """Names of identity fields whose stored value differs from these settings."""
        stored = dict(meta)
        if stored.get("scopes"):
            stored["scopes"] = sorted(stored["scopes"])
        mine = self.identity()
        return [name for name in IDENTITY_FIELDS if mine[name] != stored.get(name)]


def _fill_service_account(settings: TokenSettings, values: Dict[str, Any]) -> None:
    if values["flow"] == "service_account" and settings.has_service_account_key:
        values["client_id"] = _service_account_client_id(settings, settings.client_id)


def _service_account_client_id(settings: TokenSettings, given: Optional[str]) -> str:
    """The service account's client_email: what the token file records as client_id."""
    from ._service_account_key import read_service_account_key  # parses the key only for this flow
    key = read_service_account_key(settings.service_account_key, settings.service_account_key_file)
    if given is not None and given not in (key.client_email, key.client_id):
        raise ConfigurationError(
            "client_id %r is not the service account in the key (%s); leave client_id out for flow "
            "service_account." % (given, key.client_email), option="client_id")
    return key.client_email
