#!/usr/bin/env bash
# Idempotent developer/CI bootstrap for xoauth2.mail:
#   1. ./.venv with Python 3.12 (ansible-core 2.21 needs a 3.12+ controller)
#   2. pip install -r requirements-dev.txt (skipped when nothing changed)
#   3. the collection symlink .build/collections/ansible_collections/xoauth2/mail
#   4. bash tests/stack/install.sh (system packages + IdP for the test stack), if present
#
# Environment knobs:
#   PYTHON=/path/to/python3.12   interpreter used to create the venv
#   XOAUTH2_SKIP_STACK_INSTALL=1 do not run tests/stack/install.sh
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${REPO}"
VENV="${REPO}/.venv"
WANT="3.12"

log() { printf '[bootstrap] %s\n' "$*"; }
die() { printf '[bootstrap] ERROR: %s\n' "$*" >&2; exit 1; }

is_wanted_python() {
    [ -n "${1:-}" ] && [ -x "$1" ] &&
        "$1" -c "import sys, venv; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '${WANT}' else 1)" >/dev/null 2>&1
}

find_python() {
    local cand root
    if [ -n "${PYTHON:-}" ]; then
        is_wanted_python "${PYTHON}" || die "PYTHON=${PYTHON} is not a working Python ${WANT}"
        echo "${PYTHON}"; return
    fi
    cand="$(command -v "python${WANT}" 2>/dev/null || true)"
    if is_wanted_python "${cand}"; then echo "${cand}"; return; fi
    if command -v pyenv >/dev/null 2>&1; then
        root="$(pyenv root 2>/dev/null || true)"
    else
        root="${PYENV_ROOT:-${HOME}/.pyenv}"
    fi
    if [ -n "${root}" ] && [ -d "${root}/versions" ]; then
        # newest 3.12.x first
        for cand in $(printf "%s\n" "${root}/versions/${WANT}".* | sort -V -r); do
            if is_wanted_python "${cand}/bin/python${WANT}"; then echo "${cand}/bin/python${WANT}"; return; fi
        done
    fi
    for cand in /usr/local/bin/python${WANT} /usr/bin/python${WANT}; do
        if is_wanted_python "${cand}"; then echo "${cand}"; return; fi
    done
    die "no Python ${WANT} found (set PYTHON=/path/to/python${WANT}, or install it with pyenv)"
}

# 1. venv ---------------------------------------------------------------------
if is_wanted_python "${VENV}/bin/python" && "${VENV}/bin/python" -m pip --version >/dev/null 2>&1; then
    log "venv ok: ${VENV} ($("${VENV}/bin/python" -V 2>&1))"
else
    if [ -e "${VENV}" ]; then
        log "existing ${VENV} is not a working Python ${WANT} venv: recreating it"
        rm -rf "${VENV}"
    fi
    PY="$(find_python)"
    log "creating ${VENV} with ${PY}"
    "${PY}" -m venv "${VENV}"
fi

# 2. Python deps ----------------------------------------------------------------
STAMP="${VENV}/.xoauth2-mail-deps"
want_stamp="$(cat requirements-dev.txt requirements.txt | sha256sum | cut -d' ' -f1) $("${VENV}/bin/python" -V 2>&1)"
if [ -f "${STAMP}" ] && [ "$(cat "${STAMP}")" = "${want_stamp}" ] &&
    "${VENV}/bin/python" -c 'import ansible, msal, cryptography, requests, imapclient, pytest' >/dev/null 2>&1; then
    log "python deps up to date (requirements unchanged since last install)"
else
    mkdir -p "${REPO}/.build"
    PIPLOG="${REPO}/.build/bootstrap-pip.log"
    log "installing requirements-dev.txt into ${VENV} (log: ${PIPLOG})"
    start=${SECONDS}
    if ! "${VENV}/bin/python" -m pip install --disable-pip-version-check -r requirements-dev.txt >"${PIPLOG}" 2>&1; then
        grep -v "^WARNING: Location 'file://" "${PIPLOG}" | tail -40 >&2
        die "pip install failed (full log: ${PIPLOG})"
    fi
    echo "${want_stamp}" >"${STAMP}"
    log "python deps installed in $((SECONDS - start)) s"
fi

# 2b. shellcheck (ansible-test sanity's "shellcheck" test only warns without it) --
if ! command -v shellcheck >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "installing shellcheck (apt)"
        export DEBIAN_FRONTEND=noninteractive
        if ! apt-get install -y -qq shellcheck >/dev/null 2>&1; then
            apt-get update -qq >/dev/null 2>&1 || true
            apt-get install -y -qq shellcheck >/dev/null 2>&1 ||
                log "warning: could not install shellcheck; sanity will skip its shellcheck test"
        fi
    else
        log "warning: shellcheck not installed; sanity will skip its shellcheck test"
    fi
fi

# 3. collection path --------------------------------------------------------------
# shellcheck source=scripts/collection_path.sh
source "${REPO}/scripts/collection_path.sh"
log "collection: ${ANSIBLE_COLLECTIONS_PATH}/ansible_collections/xoauth2/mail -> repo root"

# 4. test stack ------------------------------------------------------------------------
if [ "${XOAUTH2_SKIP_STACK_INSTALL:-0}" = "1" ]; then
    log "XOAUTH2_SKIP_STACK_INSTALL=1: not installing the test stack"
elif [ -f "${REPO}/tests/stack/install.sh" ]; then
    log "running tests/stack/install.sh"
    bash "${REPO}/tests/stack/install.sh"
else
    log "tests/stack/install.sh not present yet: skipping the test stack install"
fi
log "done"
