# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""``TokenSession.ensure_valid``: keep, refresh or acquire, exactly once across processes.

The decision is made twice: first without the lock (the common no-change path
needs no lock, no network and no msal), then again after the lock is taken,
because another process may have refreshed the token while this one waited.

Key rotation: a file sealed with one of the token file's previous keys is
re-sealed with the current key (``rekeyed``), under the lock and without any
request to the identity provider; a renewal due anyway writes the current key.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from ._crypto import key_id
from ._errors import ConfigurationError, OAuthMailError, ReauthRequired, StorageError
from ._retry import with_retries
from ._settings import DELEGATED_FLOWS, TokenSettings
from ._status_file import NEEDS_REAUTH, deliver_pending, notice_due, read_status, record_failure, record_success
from ._token_file import TokenFile
from ._token_record import TokenGrant, TokenRecord

KEEP = "none"
REFRESH = "refreshed"
ACQUIRE = "acquired"
REKEY = "rekeyed"
# A lock holder is bounded by its own timeout; wait a little longer than that.
LOCK_GRACE = 10.0
# Recording a failure found without the lock (an unreadable file, a denied sign-in): a short wait,
# then the status is written anyway and any notice stays pending for the next lock holder.
RECORD_LOCK_WAIT = 5.0


def _digest(secret: Optional[str]) -> Optional[str]:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest() if secret else None


@dataclass
class Decision:
    action: str
    reason: str
    # the settings resolved against the token file the decision was made on (what a renewal uses)
    settings: TokenSettings


@dataclass
class Outcome:
    action: str
    reason: str
    record: Optional[TokenRecord]
    before: Optional[TokenRecord] = None
    warnings: List[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.action != KEEP


class TokenSession:
    """One token file plus the settings to renew it."""

    def __init__(
        self,
        settings: TokenSettings,
        token_file: TokenFile,
        provider_factory: Optional[Callable[..., Any]] = None,
        clock: Callable[[], float] = time.time,
        rekey: bool = True,
        notifier: Optional[Any] = None,
    ) -> None:
        self.settings = settings
        # A _notify.Notifier: notices of state changes go out from the status writes, under the lock.
        self.notifier = notifier
        self.token_file = token_file
        self.provider_factory = provider_factory
        self.clock = clock
        # False: a file on a previous key is read as it is and re-sealed only by its next renewal.
        self.rekey = rekey

    # -- decisions (no network) --------------------------------------------------

    @property
    def resolved(self) -> TokenSettings:
        """The settings resolved against the token file as it is now.

        Kept for callers of the former attribute that ``decide`` used to set; prefer ``Decision.settings``.
        """
        record = self.token_file.read()
        return self.settings.resolved(record.meta if record else None)

    def _credential(self, record: Optional[TokenRecord],
                    resolved: Optional[TokenSettings] = None) -> Optional[Dict[str, Any]]:
        """The client credential given now, else the one sealed in the token file."""
        if self.settings.client_secret:
            return {"secret": self.settings.client_secret}
        if self.settings.client_certificate:
            from ._certificate import load_certificate_credential  # only when renewing
            return {"certificate": load_certificate_credential(
                self.settings.client_certificate, self.settings.client_certificate_password)}
        if self.settings.has_service_account_key:
            from ._service_account_key import read_service_account_key  # only for flow service_account
            return read_service_account_key(
                self.settings.service_account_key, self.settings.service_account_key_file).sealed()
        if record is not None and self._same_client(record, resolved or self.settings):
            return record.secrets.get("client_credential")
        return None

    @staticmethod
    def _same_client(record: TokenRecord, settings: TokenSettings) -> bool:
        """A sealed credential belongs to the client and authority it was stored with."""
        return (record.meta.get("client_id"), record.meta.get("authority")) == (settings.client_id, settings.authority)

    def _credential_changed(self, record: TokenRecord) -> bool:
        stored = record.secrets.get("client_credential") or {}
        if self.settings.client_secret:
            return not hmac.compare_digest(
                str(stored.get("secret") or "").encode("utf-8"), self.settings.client_secret.encode("utf-8"))
        if self.settings.client_certificate:
            return stored.get("certificate_path") != self.settings.client_certificate
        if self.settings.has_service_account_key:
            from ._service_account_key import ServiceAccountKey
            given = ServiceAccountKey.from_sealed(self._credential(None))
            return given is None or not given.same_as(ServiceAccountKey.from_sealed(stored))
        return False

    def decide(self, record: Optional[TokenRecord], min_validity: float, force: bool = False) -> Decision:
        """What to do with ``record``; the decision carries the settings it resolved (no state is kept)."""
        settings = self.settings.resolved(record.meta if record else None)
        action, reason = self._decide(settings, record, min_validity, force)
        return Decision(action, reason, settings)

    def _decide(self, settings: TokenSettings, record: Optional[TokenRecord], min_validity: float,
                force: bool) -> Tuple[str, str]:
        if record is None:
            return (ACQUIRE, "no token file yet")
        changed = settings.mismatches(record.meta)
        if changed:
            return self._decide_changed(settings, record, changed)
        if settings.flow == "refresh_token" and settings.refresh_token and \
                _digest(settings.refresh_token) != record.secrets.get("seed_sha256"):
            return (ACQUIRE, "a new refresh_token was given")
        renew = REFRESH if record.refresh_token else ACQUIRE
        if self._credential_changed(record):
            return (renew, "the client credential changed")
        if force:
            return (renew, "refresh requested")
        if read_status(self.token_file.status_path, self.token_file.uid).get("state") == NEEDS_REAUTH:
            # The provider refused this grant (e.g. revoked): the token is not kept just because it has not
            # expired yet, so re-running the task asks for the new sign-in the notice told the person to do.
            return (renew, "the last renewal found the grant refused (needs_reauth)")
        if not record.is_valid_for(min_validity, self.clock()):
            return (renew, "the token expires within min_validity (%d s)" % min_validity)
        return (KEEP, "the token is valid for %d s more" % record.seconds_left(self.clock()))

    def _decide_changed(self, settings: TokenSettings, record: TokenRecord, changed: List[str]) -> Tuple[str, str]:
        reason = "settings changed: %s" % ", ".join(changed)
        if changed == ["username"] and record.refresh_token and settings.flow in DELEGATED_FLOWS:
            # The same grant, stored for another mailbox name: renew it, never replay a seed.
            return (REFRESH, reason + "; renewed with the stored refresh token")
        if settings.flow == "refresh_token" and settings.refresh_token and \
                _digest(settings.refresh_token) == record.secrets.get("seed_sha256"):
            # Sending an already redeemed refresh token again makes servers with reuse
            # detection revoke the whole grant: refuse before any request.
            raise ConfigurationError(
                "%s, but the refresh_token given was already redeemed for %s; sending it again could revoke "
                "the grant. Give a new refresh_token (or sign in with flow=device_code), or remove the token "
                "file first with state=absent." % (reason.capitalize(), self.token_file.path),
                option="refresh_token")
        return (ACQUIRE, reason)

    # -- the operation -----------------------------------------------------------

    def ensure_valid(self, min_validity: float, force: bool = False, check_mode: bool = False) -> Outcome:
        """Make sure the token file holds a token valid for more than ``min_validity`` seconds."""
        try:
            before = self.token_file.read()
        except StorageError as error:
            # Monitoring reads .status: an unreadable token (wrong key, tampering) must show there too.
            if not check_mode:
                self._record_failure(error)
            raise
        decision = self._with_key_change(self.decide(before, min_validity, force), before)
        if decision.action == KEEP or check_mode:
            return self._outcome(decision, before, before)
        timeout = float(self.settings.timeout)
        with self.token_file.lock(timeout + LOCK_GRACE):
            current = self.token_file.read()
            if current is not None and (before is None or current.meta.get("generation") != before.meta.get("generation")):
                # Someone else wrote the file while we waited: decide again, without forcing.
                decision = self._with_key_change(self.decide(current, min_validity, force=False), current)
                if decision.action == KEEP:
                    decision.reason = "another process renewed the token"
                    return self._outcome(decision, current, current)
            if decision.action == REKEY:
                return self._rekey(decision, current)
            return self._renew(decision, current, min_validity)

    def _with_key_change(self, decision: Decision, record: Optional[TokenRecord]) -> Decision:
        """A token kept but sealed with a previous key is re-sealed; a renewal says it changes the key."""
        old_id = self.token_file.previous_key_id(record)
        if old_id is None:
            return decision
        if decision.action != KEEP:
            decision.reason += "; written with the current key (the file was sealed with previous key %s)" % old_id
            return decision
        if not self.rekey:
            return decision
        return Decision(REKEY, "the token file is sealed with previous key %s; re-sealed with the current key %s "
                        "(%s)" % (old_id, key_id(self.token_file.key) if self.token_file.key else "?", decision.reason),
                        decision.settings)

    def _rekey(self, decision: Decision, current: Optional[TokenRecord]) -> Outcome:
        """Write the same token with the current key: no request to the identity provider."""
        if current is None or self.token_file.previous_key_id(current) is None:
            return self._outcome(Decision(KEEP, "another process re-sealed the token file", decision.settings),
                                 current, current)
        record = TokenRecord(meta=dict(current.meta), secrets=dict(current.secrets))
        # A new generation: anyone holding the old record notices the file changed.
        record.meta["generation"] = int(current.meta.get("generation") or 0) + 1
        self._write(record, current)
        return self._outcome(decision, current, record)

    def _write(self, record: TokenRecord, current: Optional[TokenRecord]) -> None:
        self.token_file.replace(record)
        if self.token_file.previous_key_id(current) is not None:
            # .bak now holds the replaced file, readable with the previous key only; replace once more
            # so that .bak is this record under the current key and no copy needs the retired key.
            self.token_file.replace(record)

    def _renew(self, decision: Decision, current: Optional[TokenRecord], min_validity: float) -> Outcome:
        settings = decision.settings
        credential = self._credential(current, settings)
        if self.provider_factory is None:
            raise ConfigurationError("The token must be renewed, but this session was given no provider.")
        provider = self.provider_factory(settings, credential)
        pending = {"refresh_token": current.refresh_token if current is not None and decision.action == REFRESH else None}

        def attempt(seconds_left: float):
            provider.session.timeout = seconds_left
            if pending["refresh_token"]:
                try:
                    return provider.refresh(pending["refresh_token"])
                except ReauthRequired:
                    # App-only tokens can always be made anew; delegated ones cannot.
                    if settings.flow != "client_credentials" or not credential:
                        raise
                    pending["refresh_token"] = None
                    decision.reason += "; the refresh token was refused, acquired anew"
                    decision.action = ACQUIRE
            return provider.acquire()

        try:
            grant = with_retries(attempt, int(settings.retries), float(settings.timeout))
        except OAuthMailError as error:
            self._record_failure(error, locked=True, record=current)
            raise
        return self._save(decision, current, grant, credential, min_validity)

    def store_grant(self, grant: TokenGrant, min_validity: float, reason: str) -> Outcome:
        """Save a grant obtained outside ``ensure_valid`` (a person's device sign-in), under the lock."""
        with self.token_file.lock(float(self.settings.timeout) + LOCK_GRACE):
            current = self.token_file.read()  # an unreadable file is never overwritten
            settings = self.settings.resolved(current.meta if current else None)
            return self._save(Decision(ACQUIRE, reason, settings), current, grant, self._credential(None),
                              min_validity)

    def record_failure(self, error: OAuthMailError) -> None:
        """Note a failure in the status file (advisory), e.g. a denied device sign-in."""
        self._record_failure(error)

    def deliver_pending_notice(self) -> Optional[str]:
        """Send a notice left pending, if one is due (the relay's periodic check, a module run that keeps the
        token); None, or why it was not sent. Takes the lock only when something is due."""
        token_file = self.token_file
        if self.notifier is None or not self.notifier.channels or not notice_due(token_file.status_path, token_file.uid):
            return None
        try:
            record = token_file.read()
        except OAuthMailError:
            record = None  # the notice is about that very problem: still send it
        try:
            with token_file.lock(RECORD_LOCK_WAIT):
                return deliver_pending(token_file.status_path, token_file.mode, token_file.uid, token_file.gid,
                                       self._notifier_for(record))
        except StorageError as error:
            return "The pending notice for %s was not sent now (retried later): %s" % (token_file.path, error)

    def _save(self, decision: Decision, current: Optional[TokenRecord], grant: TokenGrant,
              credential: Optional[Dict[str, Any]], min_validity: float) -> Outcome:
        settings = decision.settings
        now = self.clock()
        base = current if (current is not None and decision.action == REFRESH) else TokenRecord()
        record = base.with_grant(grant, now)
        record.meta.update(settings.identity())
        # Generations continue across re-acquisition so concurrent writers are always noticed.
        record.meta["generation"] = int((current.meta.get("generation") if current else 0) or 0) + 1
        if credential is not None:
            record.secrets["client_credential"] = credential
            if settings.client_certificate:
                credential["certificate_path"] = settings.client_certificate
        if settings.flow == "refresh_token" and decision.action == ACQUIRE and settings.refresh_token:
            record.secrets["seed_sha256"] = _digest(settings.refresh_token)
        # The rotated refresh token is on disk before anyone is told of success.
        self._write(record, current)
        # The status file is advisory: a problem with it is a warning, never a failure of a saved renewal.
        status_problem = record_success(self.token_file.status_path, self.token_file.mode, self.token_file.uid,
                                        self.token_file.gid, decision.action, self._notifier_for(record))
        outcome = self._outcome(decision, current, record)
        if status_problem:
            outcome.warnings.append(status_problem)
        lifetime = record.meta.get("lifetime") or 0
        if lifetime and lifetime <= min_validity:
            outcome.warnings.append(
                "min_validity (%d s) is not shorter than the token lifetime (%d s): every run will renew the token."
                % (min_validity, lifetime))
        return outcome

    def _record_failure(self, error: OAuthMailError, locked: bool = False,
                        record: Optional[TokenRecord] = None) -> None:
        if not self.token_file.exists():
            return
        token_file = self.token_file
        # Never raises: the error being recorded is what the caller reports.
        if locked:
            record_failure(token_file.status_path, token_file.mode, token_file.uid, token_file.gid, error,
                           self._notifier_for(record))
            return
        try:
            with token_file.lock(RECORD_LOCK_WAIT):
                record_failure(token_file.status_path, token_file.mode, token_file.uid, token_file.gid, error,
                               self._notifier_for(record))
        except StorageError:
            # No lock: record the state, and leave its notice to the next process that holds the lock.
            record_failure(token_file.status_path, token_file.mode, token_file.uid, token_file.gid, error)

    def _notifier_for(self, record: Optional[TokenRecord]):
        """The notifier, told which mailbox and flow this token is (for the notice's fix)."""
        if self.notifier is None:
            return None
        settings = getattr(self, "resolved", None) or self.settings
        meta = record.meta if record is not None else {}
        self.notifier.context.update(username=settings.username or meta.get("username"),
                                     flow=settings.flow or meta.get("flow"))
        return self.notifier

    def _outcome(self, decision: Decision, before: Optional[TokenRecord], after: Optional[TokenRecord]) -> Outcome:
        return Outcome(action=decision.action, reason=decision.reason, record=after, before=before)
