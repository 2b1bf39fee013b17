# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a token file holds: readable metadata and sealed secrets, and expiry arithmetic."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

# A clock that moved back further than this since the token was obtained
# makes the stored expiry meaningless: treat the token as expired.
CLOCK_BACKWARDS_TOLERANCE = 300
# RFC 6749 makes expires_in optional; assume the common one hour.
DEFAULT_LIFETIME = 3600


def iso_utc(epoch: Optional[float]) -> Optional[str]:
    if epoch is None:
        return None
    moment = datetime.datetime.fromtimestamp(int(epoch), tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class TokenGrant:
    """A provider's answer to a token request, before it is stored."""

    access_token: str
    expires_in: int
    requested_at: float
    token_type: str = "Bearer"
    refresh_token: Optional[str] = None
    scopes: Optional[List[str]] = None

    @classmethod
    def from_response(cls, body: Dict[str, Any], requested_at: float) -> "TokenGrant":
        """A grant from a token endpoint's JSON answer (RFC 6749 5.1), as msal passes it on too."""
        try:
            expires_in = int(body.get("expires_in") or DEFAULT_LIFETIME)
        except (TypeError, ValueError):
            expires_in = DEFAULT_LIFETIME
        scope = body.get("scope")
        return cls(
            access_token=body["access_token"],
            expires_in=expires_in,
            requested_at=requested_at,
            token_type=body.get("token_type") or "Bearer",
            refresh_token=body.get("refresh_token"),
            scopes=scope.split() if isinstance(scope, str) else (list(scope) if isinstance(scope, list) else None),
        )

    def __repr__(self) -> str:  # never show tokens in tracebacks or logs
        return "TokenGrant(expires_in=%r, token_type=%r, refresh_token=%s)" % (
            self.expires_in, self.token_type, "yes" if self.refresh_token else "no")


@dataclass
class TokenRecord:
    """Metadata (readable, authenticated) and secrets (encrypted) of one token file."""

    meta: Dict[str, Any] = field(default_factory=dict)
    secrets: Dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return "TokenRecord(meta=%r, secrets=<%d sealed>)" % (self.meta, len(self.secrets))

    @property
    def access_token(self) -> Optional[str]:
        return self.secrets.get("access_token")

    @property
    def refresh_token(self) -> Optional[str]:
        return self.secrets.get("refresh_token")

    @property
    def expires_at(self) -> float:
        return float(self.meta.get("expires_at") or 0)

    def seconds_left(self, now: float) -> float:
        """Seconds of validity left, or 0 when the clock makes that unknowable."""
        obtained = float(self.meta.get("obtained_at") or 0)
        if now < obtained - CLOCK_BACKWARDS_TOLERANCE:
            return 0.0
        return max(0.0, self.expires_at - now)

    def is_valid_for(self, min_validity: float, now: float) -> bool:
        return bool(self.access_token) and self.seconds_left(now) > min_validity

    def with_grant(self, grant: TokenGrant, now: float) -> "TokenRecord":
        """A new record carrying ``grant``; a refresh token is kept if none was rotated in."""
        meta = dict(self.meta)
        secrets = dict(self.secrets)
        secrets["access_token"] = grant.access_token
        if grant.refresh_token:
            secrets["refresh_token"] = grant.refresh_token
            meta["refresh_token_issued_at"] = int(grant.requested_at)
        meta.update({
            "token_type": grant.token_type or "Bearer",
            # Count from when the request left, not when the answer came: never optimistic.
            "obtained_at": int(grant.requested_at),
            "expires_at": int(grant.requested_at + grant.expires_in),
            "lifetime": int(grant.expires_in),
            "has_refresh_token": bool(secrets.get("refresh_token")),
            "updated_at": int(now),
            "generation": int(meta.get("generation") or 0) + 1,
        })
        if grant.scopes:
            meta["granted_scopes"] = list(grant.scopes)
        meta.setdefault("created_at", int(now))
        return TokenRecord(meta=meta, secrets=secrets)

    def public_view(self, now: float) -> Dict[str, Any]:
        """Non-secret facts for results, diffs and status output."""
        meta = self.meta
        return {
            "username": meta.get("username"),
            "provider": meta.get("provider"),
            "flow": meta.get("flow"),
            "authority": meta.get("authority"),
            "client_id": meta.get("client_id"),
            "scopes": meta.get("scopes"),
            "token_type": meta.get("token_type"),
            "expires_at": iso_utc(meta.get("expires_at")),
            "expires_in": int(self.seconds_left(now)),
            "has_refresh_token": bool(meta.get("has_refresh_token")),
            "updated_at": iso_utc(meta.get("updated_at")),
        }
