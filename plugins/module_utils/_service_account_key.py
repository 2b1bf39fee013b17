# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A Google Cloud service account key (the JSON file the admin downloads), checked before any use.

Every failure names the option it came from and never quotes the file: it
holds a private key.
"""

from __future__ import annotations

import hmac
import importlib
import json
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from ._dependencies import require
from ._errors import ConfigurationError

REQUIRED_FIELDS = ("client_email", "private_key", "private_key_id", "token_uri")
# Other credential files Google hands out, and what to do with them instead.
OTHER_KINDS = {
    "authorized_user": "a user's credentials (authorized_user): use flow refresh_token with its client_id, "
                       "client_secret and refresh_token",
    "external_account": "workload identity federation (external_account), which this collection does not support",
    "impersonated_service_account": "an impersonation config, not a key: download a JSON key of the service "
                                    "account itself",
}


@dataclass(frozen=True)
class ServiceAccountKey:
    client_email: str
    private_key: str = field(repr=False)
    private_key_id: str
    token_uri: str
    client_id: Optional[str] = None

    def sealed(self) -> Dict[str, Any]:
        """What the token file keeps (in its encrypted secrets) to sign later assertions alone."""
        return {"service_account": {
            "client_email": self.client_email, "client_id": self.client_id, "private_key": self.private_key,
            "private_key_id": self.private_key_id, "token_uri": self.token_uri}}

    @classmethod
    def from_sealed(cls, credential: Optional[Dict[str, Any]]) -> Optional["ServiceAccountKey"]:
        data = (credential or {}).get("service_account")
        if not isinstance(data, dict):
            return None
        names = ("client_email", "private_key", "private_key_id", "token_uri", "client_id")
        return cls(**{name: data.get(name) for name in names})

    def same_as(self, other: Optional["ServiceAccountKey"]) -> bool:
        return other is not None and other.private_key_id == self.private_key_id and hmac.compare_digest(
            other.private_key.encode("utf-8"), self.private_key.encode("utf-8"))


def read_service_account_key(content: Any, path: Optional[str]) -> ServiceAccountKey:
    """The key from ``service_account_key`` (JSON text or an already parsed dict) or ``service_account_key_file``."""
    option = "service_account_key" if content else "service_account_key_file"
    if not content:
        content = _read_file(path)
    data = _parse(content, option)
    _check_kind(data, option)
    missing = [name for name in REQUIRED_FIELDS if not isinstance(data.get(name), str) or not data[name].strip()]
    if missing:
        raise ConfigurationError(
            "%s lacks %s: give the JSON key file exactly as Google Cloud gave it." % (option, ", ".join(missing)),
            option=option)
    if "@" not in data["client_email"]:
        raise ConfigurationError("%s has a client_email that is not an address." % option, option=option)
    _check_private_key(data["private_key"], option)
    client_id = data.get("client_id")
    return ServiceAccountKey(
        client_email=data["client_email"].strip(), private_key=data["private_key"],
        private_key_id=data["private_key_id"].strip(), token_uri=data["token_uri"].strip(),
        client_id=str(client_id) if client_id else None)


def _check_kind(data: Dict[str, Any], option: str) -> None:
    kind = data.get("type")
    if kind == "service_account":
        return
    what = OTHER_KINDS.get(str(kind)) or ("an OAuth client file, not a key" if ("installed" in data or "web" in data)
                                          else "not a service account key (its type is %r)" % str(kind)[:40])
    raise ConfigurationError(
        "%s is %s. Give the JSON key of a service account (type service_account) from Google Cloud: IAM & Admin, "
        "Service accounts, Keys, Add key." % (option, what), option=option)


def _read_file(path: Optional[str]) -> str:
    try:
        with open(str(path), "r", encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise ConfigurationError(
            "service_account_key_file %s cannot be read: %s." % (path, reason), option="service_account_key_file")


def _parse(content: Any, option: str) -> Dict[str, Any]:
    if isinstance(content, dict):
        return content
    try:
        data = json.loads(content)
    except (TypeError, ValueError):
        data = None
    if not isinstance(data, dict):
        raise ConfigurationError(
            "%s is not a JSON object: give the JSON key file of the service account." % option, option=option)
    return data


def _check_private_key(pem: str, option: str) -> None:
    """The key must load as an RSA private key (RS256); the reason from the parser is not echoed."""
    require("cryptography")
    serialization = importlib.import_module("cryptography.hazmat.primitives.serialization")
    rsa = importlib.import_module("cryptography.hazmat.primitives.asymmetric.rsa")
    try:
        key = _load_pem(serialization, pem.encode("utf-8"))
    except Exception:  # pylint: disable=broad-except  # any parse failure; its text is not passed on
        key = None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigurationError(
            "%s: its private_key does not load as an unencrypted PEM RSA private key; download a new JSON key."
            % option, option=option)


def _load_pem(serialization, data: bytes):
    """Parse without the RSA consistency check (about 0.1 s a key): this runs on every no-change run, and the
    key is loaded with the full check when PyJWT signs with it."""
    try:
        return serialization.load_pem_private_key(data, password=None, unsafe_skip_rsa_key_validation=True)
    except TypeError:  # cryptography before 39
        return serialization.load_pem_private_key(data, password=None)
