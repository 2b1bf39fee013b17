# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Each provider's own mail servers: the one table the relay helper and oauth_mail_check take defaults from.

Only providers whose mail servers are known (Microsoft 365, Gmail) are here; a
generic OIDC server has none, so its host must be given.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

from ._errors import ConfigurationError


class MailServer(NamedTuple):
    host: str
    port: int
    security: str  # "starttls" or "tls"


MAIL_SERVERS = {
    "microsoft": {
        "smtp": MailServer("smtp.office365.com", 587, "starttls"),
        "imap": MailServer("outlook.office365.com", 993, "tls"),
    },
    "google": {
        "smtp": MailServer("smtp.gmail.com", 587, "starttls"),
        "imap": MailServer("imap.gmail.com", 993, "tls"),
    },
}

# The port of each protocol and security when nothing else decides it.
STANDARD_PORTS = {("smtp", "starttls"): 587, ("smtp", "tls"): 465, ("imap", "starttls"): 143, ("imap", "tls"): 993}


def mail_server(provider: Optional[str], protocol: str) -> Optional[MailServer]:
    """The provider's server for ``protocol`` (``smtp`` or ``imap``), or None when it has no known one."""
    return MAIL_SERVERS.get(provider or "", {}).get(protocol)


def providers_with_servers() -> str:
    return ", ".join(sorted(MAIL_SERVERS))


def default_port(protocol: str, security: str, server: Optional[MailServer] = None) -> int:
    """The provider's port when its security is the one in use, else the standard port of that security."""
    if server is not None and server.security == security:
        return server.port
    return STANDARD_PORTS[(protocol, security)]


def resolve_server(protocol: str, host: Optional[str], port: Optional[int], security: Optional[str],
                   provider: Optional[str]) -> MailServer:
    """The server to log in to: what was given, the rest from the provider's own server or the standard ports.

    Without ``host`` the provider's server for ``protocol`` is used; a provider without one (``oidc``, or none
    known) is a configuration error naming ``host``.
    """
    server = None
    if not host:
        server = mail_server(provider, protocol)
        if server is None:
            raise ConfigurationError(
                "host is required: only provider %s has a default %s server (provider is %s)."
                % (providers_with_servers(), protocol.upper(), provider or "not set"), option="host")
        host = server.host
    security = security or (server.security if server else ("tls" if protocol == "imap" else "starttls"))
    return MailServer(host, port or default_port(protocol, security, server), security)
