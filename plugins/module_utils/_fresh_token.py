# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the readers of a token file share (oauth_mail_check and the oauth_token lookup).

``fresh_record``: read the file, renew it if needed, give back the outcome whose record holds an
access token. ``error_result``: how a core error becomes a failure (message plus fields, never a secret).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

from ._dependencies import MissingDependency
from ._errors import ConfigurationError, OAuthMailError, StorageError
from ._session import Outcome, TokenSession


def create_provider(settings: Any, credential: Optional[Dict[str, Any]]) -> Any:
    """The provider factory of a session, loaded only when a token is renewed (msal and requests stay off
    the valid-token path)."""
    from ._providers import create_provider as create
    return create(settings, credential)


def fresh_record(session: TokenSession, min_validity: float, check_mode: bool = False, must_exist: bool = True,
                 option: Optional[str] = None) -> Outcome:
    """Read the session's token file, renew it when it expires within ``min_validity``, return the outcome.

    ``option`` names the option that gave the path: a missing file is then that option's configuration
    error; without it (a lookup term, a cache file) it is a storage error.
    """
    path = session.token_file.path
    if must_exist and not session.token_file.exists():
        raise _file_error("Token file %s does not exist. Create it with the xoauth2.mail.oauth_mail_token module."
                          % path, option)
    outcome = session.ensure_valid(min_validity, check_mode=check_mode)
    record = outcome.record
    if record is None or not record.access_token:
        raise _file_error("Token file %s holds no access token." % path, option)
    return outcome


def _file_error(message: str, option: Optional[str]) -> OAuthMailError:
    if option:
        return ConfigurationError(message, option=option)
    return StorageError(message)


def error_result(error: Exception, describe_missing: Callable[..., str]) -> Dict[str, Any]:
    """A failure for a core error or a missing library: ``msg`` and the error's fields.

    ``describe_missing`` words a missing library (Ansible's ``missing_required_lib``; the core imports no Ansible).
    """
    if isinstance(error, MissingDependency):
        return {"msg": describe_missing(error.requirement, reason=error.reason),
                "exception": error.import_traceback, "error_category": "configuration"}
    if isinstance(error, OAuthMailError):
        return dict(error.to_dict(), msg=str(error))
    raise TypeError("not a core error: %s" % type(error).__name__)
