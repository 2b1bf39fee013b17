#!/usr/bin/env bash
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# A separate virtualenv with emailproxy (PyPI) for the relay benchmark's comparison,
# under .build/ so it never mixes with the project's own .venv. Idempotent.
# Prints the venv's python path on the last line.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${EMAILPROXY_VENV:-$REPO/.build/emailproxy-venv}"
VERSION="${EMAILPROXY_VERSION:-2026.7.3}"
PYTHON="${EMAILPROXY_PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import emailproxy" 2>/dev/null; then
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "emailproxy==$VERSION" >&2
fi
echo "$VENV/bin/python"
