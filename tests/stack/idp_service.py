# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The identity provider of the test stack: ``idp/server.mjs`` (npm oidc-provider) under node."""

from __future__ import annotations

import os
import shutil
import subprocess

import service_accounts
from idp_control import IdpControl
from stack_config import FIXTURES_FILE, HOST, IDP_DIR, StackError
from stack_service import StackService


class IdpService(StackService):
    name = "idp"
    match = "server.mjs"

    def __init__(self, layout, control: IdpControl):
        super().__init__(layout)
        self.control = control

    def ports(self) -> tuple:
        return (self.layout.idp_port,)

    def ok(self) -> bool:
        try:
            return self.control.health().get("issuer") == self.layout.issuer
        except Exception:  # noqa: BLE001
            return False

    def environment(self) -> dict:
        """What server.mjs reads: where to listen, its issuer, TLS files, fixtures, service account keys."""
        layout = self.layout
        env = {k: v for k, v in os.environ.items() if not k.startswith("NODE_OPTIONS")}
        env.update({
            "IDP_HOST": HOST, "IDP_PORT": str(layout.idp_port), "IDP_ISSUER": layout.issuer,
            "IDP_TLS_CERT": layout.cert_file, "IDP_TLS_KEY": layout.key_file, "IDP_FIXTURES": FIXTURES_FILE,
            "IDP_GOOGLE_KEYS": os.path.join(layout.google_dir, service_accounts.PUBLIC_KEYS),
        })
        return env

    def launch(self, binary, timeout):
        install_node_modules()
        node = shutil.which("node")
        if not node:
            raise StackError("node not found: run tests/stack/install.sh")
        return self.spawn([node, os.path.join(IDP_DIR, "server.mjs")], env=self.environment(), cwd=IDP_DIR)


def install_node_modules() -> None:
    """npm ci in idp/ once, so a fresh checkout starts without tests/stack/install.sh."""
    if os.path.isdir(os.path.join(IDP_DIR, "node_modules", "oidc-provider")):
        return
    npm = shutil.which("npm")
    if not npm:
        raise StackError("npm not found: run tests/stack/install.sh")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=IDP_DIR, check=True)  # noqa: S603
