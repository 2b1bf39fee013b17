# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The XOAUTH2_STACK_* variables that describe a stack (what ``stack.py env`` prints as export lines)."""

from __future__ import annotations

from stack_config import HOST
from stack_layout import StackLayout


def stack_variables(layout: StackLayout) -> dict:
    """Runtime dir, URLs, TLS files, ports, test clients and accounts, in a stable order."""
    e = {
        "XOAUTH2_STACK_DIR": layout.dir,
        "XOAUTH2_STACK_ISSUER": layout.issuer,
        "XOAUTH2_STACK_TOKEN_URL": f"{layout.issuer}/token",
        "XOAUTH2_STACK_DEVICE_URL": f"{layout.issuer}/device/auth",
        "XOAUTH2_STACK_INTROSPECTION_URL": f"{layout.issuer}/token/introspection",
        "XOAUTH2_STACK_CONTROL_URL": f"{layout.base_url}/control",
        "XOAUTH2_STACK_CA": layout.ca_file,
        "XOAUTH2_STACK_CA_BUNDLE": layout.ca_bundle,
        "XOAUTH2_STACK_CERT": layout.cert_file,
        "XOAUTH2_STACK_KEY": layout.key_file,
        "XOAUTH2_STACK_HOST": HOST,
    }
    for name, port in layout.ports.items():
        e[f"XOAUTH2_STACK_{name.upper()}_PORT"] = str(port)
    for cid, secret in layout.clients.items():
        key = cid.upper().replace("-", "_")
        e[f"XOAUTH2_STACK_CLIENT_{key}_ID"] = cid
        if secret:
            e[f"XOAUTH2_STACK_CLIENT_{key}_SECRET"] = secret
    for addr, pw in layout.accounts.items():
        key = addr.split("@")[0].upper()
        e[f"XOAUTH2_STACK_ACCOUNT_{key}"] = addr
        e[f"XOAUTH2_STACK_ACCOUNT_{key}_PASSWORD"] = pw
    return e
