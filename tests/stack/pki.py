# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test PKI for the xoauth2.mail test stack.

Creates (idempotently) in ``<dir>``:

* ``ca.crt`` / ``ca.key``         - a throw-away test CA
* ``server.crt`` / ``server.key`` - a server certificate signed by it, valid
  for IP:127.0.0.1, IP:127.0.0.2 and DNS:localhost
* ``ca-bundle.crt``               - the system trust store plus the test CA
  (handy for tools that only take one bundle)
* ``dh.pem``                       - ffdhe2048 DH parameters (Dovecot ssl_dh)

Uses ``cryptography`` when importable, else the ``openssl`` command line.
Test-only material: never use these files for anything real.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import subprocess
import sys
import tempfile

SANS_IP = ("127.0.0.1", "127.0.0.2")
SANS_DNS = ("localhost",)
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
CA_NAME = "xoauth2.mail test CA"
SERVER_NAME = "127.0.0.1"


def paths(directory: str) -> dict:
    return {
        "ca_cert": os.path.join(directory, "ca.crt"),
        "ca_key": os.path.join(directory, "ca.key"),
        "cert": os.path.join(directory, "server.crt"),
        "key": os.path.join(directory, "server.key"),
        "bundle": os.path.join(directory, "ca-bundle.crt"),
        "dh": os.path.join(directory, "dh.pem"),
    }


def _write(path: str, data: bytes, mode: int = 0o644) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _still_good(p: dict) -> bool:
    """True if all files exist and the server cert is valid for > 30 days."""
    if not all(os.path.exists(p[k]) for k in ("ca_cert", "ca_key", "cert", "key")):
        return False
    try:
        out = subprocess.run(
            ["openssl", "x509", "-in", p["cert"], "-noout", "-checkend", str(30 * 86400)],
            capture_output=True, check=False,
        )
        return out.returncode == 0
    except OSError:
        return True


def _key_usage(x509, ca: bool):
    """A CA signs certificates and CRLs; the server certificate enciphers keys (TLS with RSA key exchange)."""
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=not ca,
        data_encipherment=False, key_agreement=False, key_cert_sign=ca,
        crl_sign=ca, encipher_only=False, decipher_only=False,
    )


def _make_with_cryptography(p: dict) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    start = now - datetime.timedelta(hours=1)

    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_subject)
        .issuer_name(ca_subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(x509, ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    san = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in SANS_IP]
    san += [x509.DNSName(name) for name in SANS_DNS]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAME)]))
        .issuer_name(ca_subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(_key_usage(x509, ca=False), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    def pem_key(k):
        return k.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )

    _write(p["ca_key"], pem_key(ca_key), 0o600)
    _write(p["ca_cert"], ca_cert.public_bytes(serialization.Encoding.PEM))
    _write(p["key"], pem_key(key), 0o600)
    _write(p["cert"], cert.public_bytes(serialization.Encoding.PEM))


def _make_with_openssl(p: dict) -> None:
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
        "-subj", "/CN=" + CA_NAME, "-keyout", p["ca_key"], "-out", p["ca_cert"],
        "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature")
    san = ",".join([f"IP:{ip}" for ip in SANS_IP] + [f"DNS:{d}" for d in SANS_DNS])
    with tempfile.TemporaryDirectory() as tmp:
        csr = os.path.join(tmp, "server.csr")
        ext = os.path.join(tmp, "ext.cnf")
        with open(ext, "w", encoding="ascii") as fh:
            fh.write(f"basicConstraints=critical,CA:FALSE\nsubjectAltName={san}\n"
                     "extendedKeyUsage=serverAuth\n"
                     "keyUsage=critical,digitalSignature,keyEncipherment\n")
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + SERVER_NAME,
            "-keyout", p["key"], "-out", csr)
        run("x509", "-req", "-in", csr, "-CA", p["ca_cert"], "-CAkey", p["ca_key"],
            "-CAcreateserial", "-days", "825", "-extfile", ext, "-out", p["cert"])
    os.chmod(p["key"], 0o600)
    os.chmod(p["ca_key"], 0o600)


def ensure(directory: str) -> dict:
    """Create the test CA and server cert in ``directory`` unless present and valid.

    Returns the dict of paths (keys: ca_cert, ca_key, cert, key, bundle).
    """
    os.makedirs(directory, exist_ok=True)
    p = paths(directory)
    if not _still_good(p):
        try:
            import cryptography  # noqa: F401
        except ImportError:
            _make_with_openssl(p)
        else:
            _make_with_cryptography(p)
    with open(p["ca_cert"], "rb") as fh:
        ca_pem = fh.read()
    system = b""
    if os.path.exists(SYSTEM_BUNDLE):
        with open(SYSTEM_BUNDLE, "rb") as fh:
            system = fh.read()
    bundle = system.rstrip(b"\n") + b"\n" + ca_pem if system else ca_pem
    current = None
    if os.path.exists(p["bundle"]):
        with open(p["bundle"], "rb") as fh:
            current = fh.read()
    if current != bundle:
        _write(p["bundle"], bundle)
    if not os.path.exists(p["dh"]):
        # RFC 7919 ffdhe2048 named group: instant, no prime search (Dovecot's ssl_dh)
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            subprocess.run(["openssl", "genpkey", "-genparam", "-algorithm", "DH",
                            "-pkeyopt", "group:ffdhe2048", "-out", p["dh"]],
                           check=True, capture_output=True)
    return p


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.environ.get("XOAUTH2_STACK_DIR", "/tmp/xoauth2-stack"), "pki")
    for name, path in ensure(target).items():
        print(f"{name}: {path}")
