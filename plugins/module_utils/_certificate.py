# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Load a certificate credential (PEM with private key and certificate) for msal."""

from __future__ import annotations

import importlib
from typing import Any, Dict, Optional

from ._dependencies import require
from ._errors import ConfigurationError


def load_certificate_credential(path: str, password: Optional[str]) -> Dict[str, Any]:
    require("cryptography")
    x509 = importlib.import_module("cryptography.x509")
    hashes = importlib.import_module("cryptography.hazmat.primitives.hashes")
    serialization = importlib.import_module("cryptography.hazmat.primitives.serialization")
    try:
        with open(path, "rb") as handle:
            pem = handle.read()
    except OSError as exc:
        raise ConfigurationError(
            "client_certificate %s cannot be read: %s" % (path, exc.strerror), option="client_certificate")
    try:
        key = serialization.load_pem_private_key(pem, password.encode() if password else None)
    except (ValueError, TypeError):
        raise ConfigurationError(
            "client_certificate %s holds no private key that can be loaded (wrong or missing "
            "client_certificate_password?)." % path, option="client_certificate")
    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise ConfigurationError(
            "client_certificate %s holds no PEM certificate beside the key." % path, option="client_certificate")
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return {
        "private_key": private_pem.decode("ascii"),
        "thumbprint": certificate.fingerprint(hashes.SHA1()).hex(),  # what Entra ID shows
        "public_certificate": certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
    }
