# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where the test stack keeps things: ports, URLs and every path in its runtime folder.

One object that the services, the environment output and ``Stack`` read, so a
path is spelled once.
"""

from __future__ import annotations

import os

from stack_config import ACCOUNTS, CLIENT_MAILBOXES, CLIENTS, HOST, SERVICE_ACCOUNTS, ports_from_env, runtime_dir_from_env


class StackLayout:
    """Ports, URLs and paths of the stack in one runtime directory."""

    def __init__(self, runtime_dir: str | None = None):
        self.dir = runtime_dir_from_env(runtime_dir)
        self.host = HOST
        self.ports = ports_from_env()
        self.idp_port = self.ports["idp"]
        self.imap_port = self.ports["imap"]
        self.imaps_port = self.ports["imaps"]
        self.submission_port = self.ports["submission"]
        self.submission_plain_port = self.ports["submission_plain"]
        self.base_url = f"https://{HOST}:{self.idp_port}"
        self.issuer = f"{self.base_url}/idp"
        self.pki_dir = os.path.join(self.dir, "pki")
        self.ca_file = os.path.join(self.pki_dir, "ca.crt")
        self.ca_bundle = os.path.join(self.pki_dir, "ca-bundle.crt")
        self.cert_file = os.path.join(self.pki_dir, "server.crt")
        self.key_file = os.path.join(self.pki_dir, "server.key")
        self.log_dir = os.path.join(self.dir, "logs")
        self.run_dir = os.path.join(self.dir, "run")
        self.mail_dir = os.path.join(self.dir, "mail")
        self.clients = dict(CLIENTS)
        self.client_mailboxes = dict(CLIENT_MAILBOXES)
        self.accounts = dict(ACCOUNTS)
        self.google_dir = os.path.join(self.dir, "google")
        self.service_accounts = dict(SERVICE_ACCOUNTS)
        self.dh_file = os.path.join(self.pki_dir, "dh.pem")
        # Dovecot: config, sockets in base/ (lmtp for Postfix's delivery, auth-postfix for its SASL)
        self.dovecot_dir = os.path.join(self.dir, "dovecot")
        self.dovecot_base_dir = os.path.join(self.dovecot_dir, "base")
        self.lmtp_socket = os.path.join(self.dovecot_base_dir, "lmtp")
        self.auth_socket = os.path.join(self.dovecot_base_dir, "auth-postfix")
        # Postfix state: etc/ (config dir for postfix -c), queue/, data/
        self.postfix_dir = os.path.join(self.dir, "postfix")
        self.postfix_config_dir = os.path.join(self.postfix_dir, "etc")

    def pidfile(self, service: str) -> str:
        return os.path.join(self.run_dir, f"{service}.pid")

    def logfile(self, service: str) -> str:
        return os.path.join(self.log_dir, f"{service}.log")

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/token"
