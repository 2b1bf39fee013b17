# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The interface every identity provider implements.

A provider makes single attempts; retries, locking and storage belong to the
session. Interactive flows (device code) are added as further methods.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from ._errors import ConfigurationError, ReauthRequired
from ._settings import TokenSettings
from ._token_record import TokenGrant


class Provider:
    """acquire (without a person), refresh, describe."""

    name = "base"

    def __init__(self, settings: TokenSettings, credential: Optional[Dict[str, Any]], session: Any) -> None:
        self.settings = settings
        self.credential = credential
        self.session = session

    def acquire(self) -> TokenGrant:
        """A first token for the configured flow."""
        flow = self.settings.flow
        if flow == "client_credentials":
            if not self.credential:
                raise ConfigurationError(
                    "client_secret (or client_certificate) is required for flow client_credentials.",
                    option="client_secret")
            return self.client_credentials()
        if flow == "refresh_token":
            if not self.settings.refresh_token:
                raise ConfigurationError(
                    "refresh_token is required to seed a token for flow refresh_token.", option="refresh_token")
            return self.refresh(self.settings.refresh_token)
        if flow == "device_code":
            # Raised before any request: the caller (the module, through its action plugin) starts a sign-in.
            raise ReauthRequired(
                "No usable token: a person must sign in with the device code.", code="interaction_required",
                hint="Run oauth_mail_token with flow=device_code (the verification URL and code are shown in the "
                     "play's output).")
        if flow == "auth_code":
            raise ReauthRequired(
                "No usable token: a person must sign in with a browser.", code="interaction_required",
                hint="Run oauth_mail_token with flow=auth_code (the sign-in address is shown in the play's output "
                     "and opened in a browser on the controller).")
        raise ConfigurationError("flow %s cannot be acquired without a person." % flow, option="flow")

    def start_device_flow(self):
        """Start a device sign-in (RFC 8628): a ``_device_flow.DeviceAuthorization``."""
        raise ConfigurationError("provider %s does not support flow device_code." % self.name, option="flow")

    def poll_device_flow(self, authorization) -> TokenGrant:
        """One poll of a started sign-in: a grant, or ``DevicePending``, or a classified error."""
        raise ConfigurationError("provider %s does not support flow device_code." % self.name, option="flow")

    def start_auth_code(self, signin):
        """Fill in the authorization URL of a browser sign-in (an ``_auth_code_flow.AuthCodeSignIn``)."""
        raise ConfigurationError("provider %s does not support flow auth_code." % self.name, option="flow")

    def redeem_auth_code(self, signin, code: str) -> TokenGrant:
        """Redeem the authorization code of a started sign-in, with its PKCE verifier."""
        raise ConfigurationError("provider %s does not support flow auth_code." % self.name, option="flow")

    def client_credentials(self) -> TokenGrant:
        raise NotImplementedError

    def refresh(self, refresh_token: str) -> TokenGrant:
        raise NotImplementedError

    def describe(self) -> Dict[str, Any]:
        return {"provider": self.name, "authority": self.settings.authority, "client_id": self.settings.client_id}

    def where(self) -> str:
        return "the identity provider at %s" % self.settings.authority
