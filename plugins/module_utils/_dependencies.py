# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one place that knows which third-party libraries the core uses.

Imports are lazy: the no-change path of the module only needs
``cryptography``; ``msal`` and ``requests`` are loaded when a request to the
identity provider is really made. Adapters turn ``MissingDependency`` into
``missing_required_lib(...)`` (Ansible) or a plain message (relay helper).
"""

from __future__ import annotations

import importlib
import traceback
from types import ModuleType
from typing import Dict, Optional, Tuple

# import name -> (requirement for pip, minimum version or None)
LIBRARIES: Dict[str, Tuple[str, Optional[Tuple[int, ...]]]] = {
    "cryptography": ("cryptography", None),
    "requests": ("requests", None),
    # oidc_authority (any OIDC issuer, e.g. a test provider) needs 1.28.
    "msal": ("msal>=1.28", (1, 28)),
    "imapclient": ("imapclient", None),
    # Signs the service account's JWT bearer assertion (provider google); msal brings it.
    "jwt": ("PyJWT[crypto]", None),
}


class MissingDependency(Exception):
    """A library the requested feature needs is not importable."""

    def __init__(self, library: str, requirement: str, reason: str, import_traceback: Optional[str] = None) -> None:
        super().__init__("%s (%s)" % (requirement, reason))
        self.library = library
        self.requirement = requirement
        self.reason = reason
        self.import_traceback = import_traceback


_loaded: Dict[str, ModuleType] = {}


def _version_tuple(text: str) -> Tuple[int, ...]:
    parts = []
    for piece in text.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def require(library: str) -> ModuleType:
    """Import ``library`` or raise ``MissingDependency`` with an install hint."""
    if library in _loaded:
        return _loaded[library]
    requirement, minimum = LIBRARIES[library]
    try:
        module = importlib.import_module(library)
    except ImportError:
        raise MissingDependency(library, requirement, "not installed", traceback.format_exc())
    if minimum is not None:
        version = _version_tuple(getattr(module, "__version__", "0"))
        if version < minimum:
            raise MissingDependency(
                library, requirement, "found version %s" % getattr(module, "__version__", "unknown"))
    _loaded[library] = module
    return module


def aesgcm_class():
    """The AES-GCM primitive from ``cryptography``."""
    require("cryptography")
    aead = importlib.import_module("cryptography.hazmat.primitives.ciphers.aead")
    return aead.AESGCM
