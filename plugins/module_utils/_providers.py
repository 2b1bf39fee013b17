# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Provider registry: settings in, provider object out."""

from __future__ import annotations

from typing import Any, Dict, Optional

from ._errors import ConfigurationError
from ._http import check_ca_path, new_session
from ._provider_base import Provider
from ._provider_google import GoogleProvider
from ._provider_microsoft import MicrosoftProvider
from ._provider_oidc import OidcProvider
from ._settings import TokenSettings

PROVIDER_CLASSES = {
    MicrosoftProvider.name: MicrosoftProvider,
    OidcProvider.name: OidcProvider,
    GoogleProvider.name: GoogleProvider,
}


def create_provider(settings: TokenSettings, credential: Optional[Dict[str, Any]]) -> Provider:
    try:
        provider_class = PROVIDER_CLASSES[settings.provider]
    except KeyError:
        raise ConfigurationError(
            "provider must be one of %s, got %r." % (", ".join(sorted(PROVIDER_CLASSES)), settings.provider),
            option="provider")
    check_ca_path(settings.ca_path)
    session = new_session(settings.validate_certs, settings.ca_path, settings.timeout)
    return provider_class(settings, credential, session)
