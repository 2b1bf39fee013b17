# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared pieces of the Google tests: real RSA keys in Google's key file shape, and a recording HTTP session."""
from __future__ import annotations

import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
SA_EMAIL = "mail-relay@example-project.iam.gserviceaccount.com"


def new_rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def key_document(private_key, client_email=SA_EMAIL, private_key_id="0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6",
                 client_id="104200000000000000001"):
    """A service account key as Google Cloud hands it out."""
    pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode("ascii")
    return {
        "type": "service_account",
        "project_id": "example-project",
        "private_key_id": private_key_id,
        "private_key": pem,
        "client_email": client_email,
        "client_id": client_id,
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": GOOGLE_TOKEN_URL,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/mail-relay",
        "universe_domain": "googleapis.com",
    }


def key_body(document):
    """The PEM body of the private key (what must never be printed)."""
    lines = document["private_key"].strip().splitlines()
    return "".join(lines[1:-1])


class FakeResponse:
    def __init__(self, status, body, headers=None):
        self.status_code = status
        self._body = body
        self.headers = headers or {}

    def json(self):
        if self._body is None:
            raise ValueError("no JSON")
        return self._body


class RecordingSession:
    """Stands in for the provider's requests session: scripted answers, every request kept."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.posts = []
        self.gets = []
        self.timeout = 10
        self.forget()

    def forget(self):
        self.last_status = None
        self.last_retry_after = None
        self.last_network_error = None

    def _answer(self):
        status, body = self.answers.pop(0)
        self.last_status = status
        return FakeResponse(status, body)

    def post(self, url, data=None, headers=None):
        self.posts.append({"url": url, "data": dict(data or {}), "headers": dict(headers or {})})
        return self._answer()

    def get(self, url, headers=None):
        self.gets.append(url)
        return self._answer()


def token_answer(access_token="ya29.test-access-token", refresh_token=None):
    body = {"access_token": access_token, "expires_in": 3599, "token_type": "Bearer", "scope": "https://mail.google.com/"}
    if refresh_token:
        body["refresh_token"] = refresh_token
    return 200, body


def dumps(document):
    return json.dumps(document)
