# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test-only Google service accounts of the stack: JSON key files and the IdP's copy of their public keys.

For each service account in ``idp/fixtures.json`` this writes, in
``<runtime dir>/google/``:

- ``<client_id>.json``: the key file exactly as Google Cloud hands it to an
  admin (``type``, ``project_id``, ``private_key_id``, ``private_key``,
  ``client_email``, ``client_id``, ``token_uri`` = the stack's token endpoint, ...);
- ``public-keys.json``: ``{client_email: {private_key_id: public key PEM}}``,
  what the IdP verifies assertions with (Google keeps only the public half).

A key pair is made once and kept; the JSON is rewritten when the token URL
(the IdP port) changes. Uses ``cryptography`` when importable, else ``openssl``.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile

PUBLIC_KEYS = "public-keys.json"


def _write(path: str, text: str, mode: int) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _new_key_pair() -> tuple:
    """(private key PKCS#8 PEM, public key PEM), RSA 2048."""
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
    except ImportError:
        with tempfile.TemporaryDirectory() as tmp:
            key = os.path.join(tmp, "key.pem")
            subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                            "-out", key], check=True, capture_output=True)
            public = subprocess.run(["openssl", "pkey", "-in", key, "-pubout"], check=True, capture_output=True)
            with open(key, encoding="ascii") as fh:
                return fh.read(), public.stdout.decode("ascii")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode("ascii")
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")
    return private, public


def _read_json(path: str):
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def key_file(directory: str, client_id: str) -> str:
    return os.path.join(directory, f"{client_id}.json")


def ensure(directory: str, accounts: dict, token_url: str) -> dict:
    """Key files for ``accounts`` (fixtures ``service_accounts``); returns client_email -> key file path."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    public_path = os.path.join(directory, PUBLIC_KEYS)
    public_keys = _read_json(public_path) or {}
    paths = {}
    for email, account in sorted(accounts.items()):
        path = key_file(directory, account["client_id"])
        current = _read_json(path)
        kid = (current or {}).get("private_key_id")
        if current is None or kid not in public_keys.get(email, {}):
            private, public = _new_key_pair()
            kid = os.urandom(20).hex()
            current = {"private_key": private}
            public_keys[email] = {kid: public}
        document = {
            "type": "service_account",
            "project_id": account.get("project_id", "xoauth2-test"),
            "private_key_id": kid,
            "private_key": current["private_key"],
            "client_email": email,
            "client_id": account["client_id"],
            "auth_uri": token_url.rsplit("/", 1)[0] + "/auth",
            "token_uri": token_url,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/" + email.replace("@", "%40"),
            "universe_domain": "googleapis.com",
        }
        if _read_json(path) != document:
            _write(path, json.dumps(document, indent=2) + "\n", 0o600)
        paths[email] = path
    if _read_json(public_path) != public_keys:
        _write(public_path, json.dumps(public_keys, indent=2) + "\n", 0o644)
    return paths
