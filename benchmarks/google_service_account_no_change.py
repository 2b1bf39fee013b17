#!/usr/bin/env python
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The no-change decision of a Google service account token, against a client-secret token of the same file size.

Every run of a playbook with flow=service_account reads and checks the key file
(to know the service account, and whether the key changed) before deciding
that the stored token is still good. This times ``TokenSession.ensure_valid``
on a valid token, N times each, interleaved, in one process:

- baseline: a provider=oidc token with client_secret (no key file);
- service account: the same decision with service_account_key_file given;
- the same, if the key check ran RSA's full consistency check (what a plain
  ``load_pem_private_key`` does), to show why it is skipped there.

Prints the medians and their ratios to the baseline. No identity provider is needed.

    .venv/bin/python benchmarks/google_service_account_no_change.py [-n 200]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(REPO, ".build", "collections"))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from ansible_collections.xoauth2.mail.plugins.module_utils import _service_account_key  # noqa: E402
from ansible_collections.xoauth2.mail.plugins.module_utils._service_account_key import (  # noqa: E402
    read_service_account_key)
from ansible_collections.xoauth2.mail.plugins.module_utils._session import TokenSession  # noqa: E402
from ansible_collections.xoauth2.mail.plugins.module_utils._settings import TokenSettings  # noqa: E402
from ansible_collections.xoauth2.mail.plugins.module_utils._token_file import TokenFile  # noqa: E402
from ansible_collections.xoauth2.mail.plugins.module_utils._token_record import TokenGrant, TokenRecord  # noqa: E402


def write_valid(path, key, meta, credential):
    grant = TokenGrant(access_token="a" * 1200, expires_in=3600, requested_at=time.time())
    record = TokenRecord(meta=dict(meta)).with_grant(grant, time.time())
    record.secrets["client_credential"] = credential
    TokenFile(path, key).replace(record)


def full_check_load(serialization_module, data):
    return serialization_module.load_pem_private_key(data, password=None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("-n", type=int, default=200)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-google-")
    key = os.urandom(32)
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    email = "mail-relay@bench.iam.gserviceaccount.com"
    key_path = os.path.join(folder, "sa.json")
    with open(key_path, "w") as handle:
        json.dump({"type": "service_account", "private_key_id": "k" * 40, "private_key": pem, "client_email": email,
                   "client_id": "1" * 21, "token_uri": "https://oauth2.googleapis.com/token"}, handle)
    sa_settings = dict(provider="google", flow="service_account", service_account_key_file=key_path,
                       username="alerts@example.com")
    sa = TokenSettings(**sa_settings).resolved()
    sa_path = os.path.join(folder, "sa.token")
    write_valid(sa_path, key, sa.identity(), read_service_account_key(None, key_path).sealed())
    oidc_settings = dict(provider="oidc", authority="https://idp.example.com", client_id="app", client_secret="s",
                         scopes=["mail.send"], username="alerts@example.com")
    oidc = TokenSettings(**oidc_settings).resolved()
    oidc_path = os.path.join(folder, "oidc.token")
    write_valid(oidc_path, key, oidc.identity(), {"secret": "s"})

    def decide(path, values):
        start = time.perf_counter()
        outcome = TokenSession(TokenSettings(**values), TokenFile(path, key)).ensure_valid(600)
        assert outcome.action == "none"
        return time.perf_counter() - start

    cheap_load = _service_account_key._load_pem
    times = {"baseline": [], "service_account": [], "service_account_full_check": []}
    for _round in range(args.n):
        times["baseline"].append(decide(oidc_path, oidc_settings))
        times["service_account"].append(decide(sa_path, sa_settings))
        if _round < max(5, args.n // 20):  # about 0.25 s a run: fewer rounds
            _service_account_key._load_pem = full_check_load
            try:
                times["service_account_full_check"].append(decide(sa_path, sa_settings))
            finally:
                _service_account_key._load_pem = cheap_load
    base = statistics.median(times["baseline"])
    print("%-30s %12s %10s %8s" % ("no-change decision", "median ms", "ratio", "runs"))
    for name, values in times.items():
        median = statistics.median(values)
        print("%-30s %12.3f %9.1fx %8d" % (name, median * 1000, median / base, len(values)))


if __name__ == "__main__":
    main()
