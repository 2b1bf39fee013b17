# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Classified failures of the token core.

Every failure the core raises is one of four categories, so that callers
(module, lookup, relay helper) can decide what to do without parsing text:
retry later, ask a person to sign in again, fix the configuration, or look
at the token file. Messages never contain a secret.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

TEMPORARY = "temporary"
REAUTH_REQUIRED = "reauth_required"
CONFIGURATION = "configuration"
STORAGE = "storage"


class OAuthMailError(Exception):
    """Base class: a message, a category and optional provider details."""

    category = "error"

    def __init__(
        self,
        message: str,
        *,
        code: Optional[str] = None,
        description: Optional[str] = None,
        hint: Optional[str] = None,
        option: Optional[str] = None,
        http_status: Optional[int] = None,
        retry_after: Optional[float] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.description = description
        self.hint = hint
        self.option = option
        self.http_status = http_status
        self.retry_after = retry_after

    def __str__(self) -> str:
        text = self.message
        if self.hint:
            text = "%s %s" % (text, self.hint)
        return text

    def to_dict(self) -> Dict[str, Any]:
        """Fields for an Ansible result or a status file (no secrets)."""
        result: Dict[str, Any] = {"error_category": self.category}
        for name in ("code", "description", "hint", "option", "http_status", "retry_after"):
            value = getattr(self, name)
            if value is not None:
                result["error_%s" % name] = value
        return result


class TemporaryError(OAuthMailError):
    """Network trouble, timeouts, 5xx, 429: retry later, keep the token."""

    category = TEMPORARY


class ReauthRequired(OAuthMailError):
    """The grant is gone (expired, revoked, MFA): a person must sign in again."""

    category = REAUTH_REQUIRED


class ConfigurationError(OAuthMailError):
    """Bad options or an application registration problem; names the option."""

    category = CONFIGURATION


class StorageError(OAuthMailError):
    """The token file cannot be read, decrypted or written."""

    category = STORAGE
