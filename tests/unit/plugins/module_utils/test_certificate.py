# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from ansible_collections.xoauth2.mail.plugins.module_utils._certificate import load_certificate_credential
from ansible_collections.xoauth2.mail.plugins.module_utils._errors import ConfigurationError


def make_pem(tmp_path, password=None):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relay-app")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    encryption = (serialization.BestAvailableEncryption(password.encode()) if password
                  else serialization.NoEncryption())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    pem += cert.public_bytes(serialization.Encoding.PEM)
    path = tmp_path / "app.pem"
    path.write_bytes(pem)
    return str(path), cert


def test_thumbprint_is_the_sha1_entra_shows(tmp_path):
    path, cert = make_pem(tmp_path)
    credential = load_certificate_credential(path, None)
    assert credential["thumbprint"] == cert.fingerprint(hashes.SHA1()).hex()
    assert "PRIVATE KEY" in credential["private_key"] and "CERTIFICATE" in credential["public_certificate"]


def test_password_protected_key(tmp_path):
    path, dummy = make_pem(tmp_path, password="pw")
    assert load_certificate_credential(path, "pw")["thumbprint"]
    with pytest.raises(ConfigurationError) as caught:
        load_certificate_credential(path, "hunter2x")
    assert caught.value.option == "client_certificate" and "hunter2x" not in str(caught.value)


def test_missing_file_names_the_option(tmp_path):
    with pytest.raises(ConfigurationError) as caught:
        load_certificate_credential(str(tmp_path / "none.pem"), None)
    assert caught.value.option == "client_certificate"
