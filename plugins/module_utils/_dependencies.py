# -*- coding: utf-8 -*-
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one place that knows which third-party libraries the core uses.

Imports are lazy: the no-change path of the module only needs
``cryptography``; ``msal`` and ``requests`` are loaded when a request to the
identity provider is really made. Adapters turn ``MissingDependency`` into
``missing_required_lib(...)`` (Ansible) or a plain message (relay helper).

Two kinds of minimum versions: one a feature needs (msal 1.28 for any OIDC
issuer), always enforced; and one below which the library has known
vulnerabilities, enforced for libraries installed with pip. A library from
the operating system's packages (no pip ``INSTALLER`` record) is accepted at
its version: distributions backport fixes without changing the version.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from types import ModuleType
from typing import Dict, Optional, Tuple

# import name -> (requirement for pip, minimum version a feature needs, or None)
LIBRARIES: Dict[str, Tuple[str, Optional[Tuple[int, ...]]]] = {
    "cryptography": ("cryptography>=44.0.1", None),
    "requests": ("requests>=2.32.4", None),
    # oidc_authority (any OIDC issuer, e.g. a test provider) needs 1.28.
    "msal": ("msal>=1.28", (1, 28)),
    "imapclient": ("imapclient", None),
    # Signs the service account's JWT bearer assertion (provider google); msal brings it.
    "jwt": ("PyJWT[crypto]", None),
}

# import name -> (oldest release without known vulnerabilities, why); keep in step with requirements.txt
# and roles/relay_helper/files/constraints.txt.
SECURITY_MINIMUMS: Dict[str, Tuple[Tuple[int, ...], str]] = {
    # 44.0.1: the OpenSSL in its wheels fixes CVE-2024-12797; older series get no fixes at all
    "cryptography": ((44, 0, 1), "older releases get no security fixes (CVE-2024-12797 and earlier)"),
    # 2.32.4: CVE-2024-47081 (.netrc credentials sent to the wrong host); 2.32.0: CVE-2024-35195
    "requests": ((2, 32, 4), "older releases leak credentials (CVE-2024-47081, CVE-2024-35195)"),
}
# INSTALLER records of operating system package managers (Debian's packages have none at all).
OS_INSTALLERS = ("", "rpm", "debian", "dpkg", "apk")


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


def _installer(library: str) -> str:
    """Who installed ``library`` (pip writes ``pip``); empty when unknown."""
    try:
        from importlib import metadata  # Python 3.8+
        return (metadata.distribution(library).read_text("INSTALLER") or "").strip().lower()
    except Exception:  # no metadata at all: an OS package or a copy; the version is all we know
        return ""


def _check_version(library: str, module: ModuleType, requirement: str, minimum: Optional[Tuple[int, ...]]) -> None:
    _check_version_text(library, str(getattr(module, "__version__", "0")), requirement, minimum)


def _check_version_text(library: str, text: str, requirement: str, minimum: Optional[Tuple[int, ...]]) -> None:
    version = _version_tuple(text)
    # The reasons complete Ansible's "This is required ..." of missing_required_lib.
    if minimum is not None and version < minimum:
        raise MissingDependency(library, requirement, "because %s %s is installed and %s or newer is needed"
                                % (library, text, ".".join(str(n) for n in minimum)))
    secure, why = SECURITY_MINIMUMS.get(library, ((), ""))
    if version < secure and _installer(library) not in OS_INSTALLERS:
        raise MissingDependency(library, requirement, "because %s %s is installed with pip and %s or newer is "
                                "needed (%s)" % (library, text, ".".join(str(n) for n in secure), why))


def require(library: str) -> ModuleType:
    """Import ``library`` or raise ``MissingDependency`` with an install hint."""
    if library in _loaded:
        return _loaded[library]
    requirement, minimum = LIBRARIES[library]
    try:
        module = importlib.import_module(library)
    except ImportError:
        raise MissingDependency(library, requirement, "not installed", traceback.format_exc())
    _check_version(library, module, requirement, minimum)
    _loaded[library] = module
    return module


def require_installed(library: str) -> None:
    """Like ``require`` but without importing ``library``: for a long-running process that checks at start
    what it will import later (the relay helper loads ``requests`` only when it renews a token)."""
    if library in _loaded:
        return
    requirement, minimum = LIBRARIES[library]
    imported = sys.modules.get(library)
    if imported is not None:  # already imported by someone: its own version is what runs
        _check_version(library, imported, requirement, minimum)
        return
    if importlib.util.find_spec(library) is None:
        raise MissingDependency(library, requirement, "not installed")
    try:
        from importlib import metadata  # Python 3.8+
        text = metadata.version(library)
    except Exception:  # no metadata (a copied tree): the import at use time checks the version
        return
    _check_version_text(library, text, requirement, minimum)


def aesgcm_class():
    """The AES-GCM primitive from ``cryptography``."""
    require("cryptography")
    aead = importlib.import_module("cryptography.hazmat.primitives.ciphers.aead")
    return aead.AESGCM
