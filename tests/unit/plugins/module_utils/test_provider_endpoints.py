# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The providers' own mail servers: one table, read by the relay helper's loader and oauth_mail_check."""
from __future__ import annotations

import pytest

from ansible_collections.xoauth2.mail.plugins.module_utils._errors import ConfigurationError
from ansible_collections.xoauth2.mail.plugins.module_utils._provider_endpoints import (
    MAIL_SERVERS,
    MailServer,
    mail_server,
    resolve_server,
)
from ansible_collections.xoauth2.mail.plugins.module_utils._settings import PROVIDERS


def test_gmail_and_microsoft_servers():
    assert mail_server("google", "smtp") == MailServer("smtp.gmail.com", 587, "starttls")
    assert mail_server("google", "imap") == MailServer("imap.gmail.com", 993, "tls")
    assert mail_server("microsoft", "smtp") == MailServer("smtp.office365.com", 587, "starttls")
    assert mail_server("microsoft", "imap") == MailServer("outlook.office365.com", 993, "tls")


@pytest.mark.parametrize("provider", ["oidc", None, "", "yahoo"])
def test_no_server_for_a_generic_or_unknown_provider(provider):
    assert mail_server(provider, "smtp") is None and mail_server(provider, "imap") is None


def test_every_provider_of_the_table_is_a_known_provider():
    assert set(MAIL_SERVERS) <= set(PROVIDERS)


@pytest.mark.parametrize("protocol, provider, expected", [
    ("imap", "google", ("imap.gmail.com", 993, "tls")),
    ("smtp", "google", ("smtp.gmail.com", 587, "starttls")),
    ("imap", "microsoft", ("outlook.office365.com", 993, "tls")),
    ("smtp", "microsoft", ("smtp.office365.com", 587, "starttls")),
])
def test_without_host_the_providers_server(protocol, provider, expected):
    assert tuple(resolve_server(protocol, None, None, None, provider)) == expected


def test_given_parts_win_and_the_port_follows_the_security():
    assert tuple(resolve_server("smtp", None, None, "tls", "google")) == ("smtp.gmail.com", 465, "tls")
    assert tuple(resolve_server("imap", None, None, "starttls", "google")) == ("imap.gmail.com", 143, "starttls")
    assert tuple(resolve_server("smtp", None, 2525, None, "google")) == ("smtp.gmail.com", 2525, "starttls")
    # a host of one's own: the provider changes nothing
    assert tuple(resolve_server("smtp", "mx.example.test", None, None, "google")) == ("mx.example.test", 587, "starttls")
    assert tuple(resolve_server("imap", "mx.example.test", None, None, None)) == ("mx.example.test", 993, "tls")


@pytest.mark.parametrize("provider", ["oidc", None])
def test_no_host_and_no_provider_server_is_an_error_naming_host(provider):
    with pytest.raises(ConfigurationError) as error:
        resolve_server("imap", None, None, None, provider)
    assert error.value.option == "host"
    assert "host is required" in str(error.value) and "google, microsoft" in str(error.value)
