# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The HTTP client handed to msal and used by the generic OIDC provider.

Two reasons for our own ``requests.Session``:
- ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` in the environment silently win over
  a session's ``verify``; an explicit ``ca_path`` or ``validate_certs=false``
  must win instead.
- msal hides HTTP status codes and ``Retry-After`` behind exceptions and error
  dicts; the session remembers the last answer so errors can be classified.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Optional, Union

from ._dependencies import require
from ._errors import ConfigurationError, OAuthMailError, TemporaryError

_session_class = None


def _parse_retry_after(value: Optional[str]) -> Optional[float]:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to backoff


def _build_session_class():
    requests = require("requests")

    class ProviderSession(requests.Session):
        """A session with a settable timeout that keeps the last answer's status."""

        def __init__(self, verify: Union[bool, str], timeout: float) -> None:
            super().__init__()
            self.verify = verify
            self.timeout = timeout
            self.requests_made = 0
            self.forget()

        def forget(self) -> None:
            self.last_status: Optional[int] = None
            self.last_retry_after: Optional[float] = None
            self.last_network_error: Optional[BaseException] = None

        def merge_environment_settings(self, url, proxies, stream, verify, cert):
            settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
            if self.verify is not True:  # an explicit CA file or no verification
                settings["verify"] = self.verify
            return settings

        def request(self, method, url, *args, **kwargs):  # pylint: disable=arguments-differ
            kwargs.setdefault("timeout", self.timeout)
            self.requests_made += 1
            try:
                response = super().request(method, url, *args, **kwargs)
            except requests.exceptions.RequestException as exc:
                self.last_network_error = exc
                raise
            self.last_status = response.status_code
            self.last_retry_after = _parse_retry_after(response.headers.get("Retry-After"))
            return response

    return ProviderSession


def new_session(validate_certs: bool, ca_path: Optional[str], timeout: float):
    global _session_class
    if _session_class is None:
        _session_class = _build_session_class()
    verify: Union[bool, str] = True
    if not validate_certs:
        verify = False
    elif ca_path:
        verify = ca_path
    return _session_class(verify, timeout)


def network_error(exc: BaseException, url: str) -> OAuthMailError:
    """A classified error for a requests exception, without echoing request data."""
    requests = require("requests")
    if isinstance(exc, requests.exceptions.SSLError):
        # Retrying cannot fix a certificate the client does not trust.
        return ConfigurationError(
            "TLS verification of %s failed: %s" % (url, _first_line(exc)), option="ca_path",
            hint="If the server uses a private CA, set ca_path to its certificate.", code="tls_error")
    if isinstance(exc, requests.exceptions.Timeout):
        return TemporaryError("%s did not answer in time." % url, code="timeout",
                              hint="The stored token was kept; try again later.")
    return TemporaryError("Cannot reach %s: %s" % (url, _first_line(exc)), code="network_error",
                          hint="The stored token was kept; try again later.")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else exc.__class__.__name__


def parse_json(response) -> Optional[Dict[str, Any]]:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def check_ca_path(ca_path: Optional[str]) -> None:
    if ca_path and not os.path.exists(ca_path):
        raise ConfigurationError("ca_path %s does not exist." % ca_path, option="ca_path")
