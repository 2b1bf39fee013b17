# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""SASL XOAUTH2 / OAUTHBEARER strings and the servers' error challenges."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Dict, Optional


def xoauth2_initial_response(username: str, access_token: str) -> str:
    """Base64 of ``user=<u>^Aauth=Bearer <t>^A^A`` (Google and Microsoft's XOAUTH2)."""
    raw = "user=%s\x01auth=Bearer %s\x01\x01" % (username, access_token)
    return base64.b64encode(raw.encode("utf-8")).decode("ascii")


def oauthbearer_initial_response(username: str, access_token: str, host: str = "", port: int = 0) -> str:
    """Base64 of the RFC 7628 OAUTHBEARER initial client response."""
    parts = ["n,a=%s," % username.replace("=", "=3D").replace(",", "=2C")]
    if host:
        parts.append("host=%s" % host)
    if port:
        parts.append("port=%d" % port)
    parts.append("auth=Bearer %s" % access_token)
    raw = "\x01".join(parts) + "\x01\x01"
    return base64.b64encode(raw.encode("utf-8")).decode("ascii")


def decode_error_challenge(challenge: Any) -> Optional[Dict[str, Any]]:
    """The JSON status a server sends as a challenge after a refused token, if it is one."""
    if isinstance(challenge, bytes):
        challenge = challenge.decode("ascii", "replace")
    try:
        data = json.loads(base64.b64decode(str(challenge).strip(), validate=True).decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None
