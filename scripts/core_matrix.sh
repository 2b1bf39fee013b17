#!/usr/bin/env bash
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The supported ansible-core range (meta/runtime.yml), tested: the oldest, a middle and the newest
# release, each in a virtual environment of its own (step "core matrix" of `make test`).
#
#   scripts/core_matrix.sh [STEP...]      STEP: prepare | sanity | unit | smoke | all (default: all)
#
#   prepare  a venv per version under .build/core-matrix/ (Python 3.12, the exact ansible-core, the runtime
#            and test libraries at the versions pinned in requirements-dev.txt); kept while its pins hold
#   sanity   ansible-test sanity on Python 3.12 with each older version's own ansible-test
#   unit     pytest tests/unit with each older version
#   smoke    tests/matrix/smoke.yml (every plugin, against the running test stack: needs
#            `python tests/stack/stack.py env` in the environment) and roles_check.yml (both roles, --check)
#            with each version's ansible-playbook
# 2.21 is the main venv (.venv): its sanity (every Python) and unit tests are steps of their own in
# `make test`, so here it gets the smoke run only.
#
# Env: XOAUTH2_MATRIX_DIR (default .build/core-matrix), XOAUTH2_MATRIX_VERSIONS (e.g. "2.16.19"),
#      PIP_CACHE_DIR (pip's; the default cache shares wheels with `make bootstrap`).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/collection_path.sh
source "${REPO}/scripts/collection_path.sh"
MAIN_VENV="${REPO}/.venv"
MATRIX="${XOAUTH2_MATRIX_DIR:-${REPO}/.build/core-matrix}"
# oldest (still in supported AAP 2.5/2.6 execution environments), middle (2.19's templating overhaul), newest
read -r -a VERSIONS <<<"${XOAUTH2_MATRIX_VERSIONS:-2.16.19 2.19.14 2.21.5}"
MAIN_CORE="$("${MAIN_VENV}/bin/python" -c 'import ansible.release as r; print(r.__version__)')"
# libraries every venv gets, at requirements-dev.txt's versions (ruff: one unit test lints with it)
PINNED=(cryptography msal requests imapclient pytest pytest-ansible hypothesis ruff)

log() { printf '[core-matrix] %s\n' "$*"; }
die() { log "ERROR: $*" >&2; exit 1; }

venv_of() {
    if [ "$1" = "${MAIN_CORE}" ]; then echo "${MAIN_VENV}"; else echo "${MATRIX}/venv-$1"; fi
}

pins() {
    local name line
    echo "ansible-core==$1"
    for name in "${PINNED[@]}"; do
        line="$(grep -iE "^${name}==" "${REPO}/requirements-dev.txt")" || die "no ${name}== pin in requirements-dev.txt"
        echo "${line}"
    done
}

venv_ready() {
    local venv
    venv="$(venv_of "$1")"
    [ "${venv}" = "${MAIN_VENV}" ] && return 0
    [ -f "${venv}/.xoauth2-matrix" ] && [ "$(cat "${venv}/.xoauth2-matrix")" = "$(pins "$1" | sha256sum | cut -d' ' -f1)" ] &&
        "${venv}/bin/python" -c 'import ansible, msal, cryptography, pytest' >/dev/null 2>&1
}

# Another run of this script (make test's other background job) may be making the venv: wait for it.
await_other_prepare() {
    local lock waited=0 pid
    lock="$(venv_of "$1").preparing"
    while [ -d "${lock}" ]; do
        pid="$(cat "${lock}/pid" 2>/dev/null || true)"
        if [ -n "${pid}" ] && ! kill -0 "${pid}" 2>/dev/null; then rm -rf "${lock}"; break; fi
        [ "${waited}" -lt 1800 ] || die "$1: still locked by ${lock} after ${waited} s"
        [ "${waited}" != 0 ] || log "$1: waiting for the venv another run is making"
        sleep 2
        waited=$((waited + 2))
    done
}

prepare() {
    local version="$1" venv
    venv="$(venv_of "${version}")"
    [ "${venv}" = "${MAIN_VENV}" ] && return 0
    await_other_prepare "${version}"
    if venv_ready "${version}"; then
        log "${version}: venv up to date (${venv})"
        return 0
    fi
    mkdir -p "${MATRIX}"
    mkdir "${venv}.preparing" || die "${version}: ${venv}.preparing exists"
    echo "$$" >"${venv}.preparing/pid"
    local rc=0
    make_venv "${version}" "${venv}" || rc=$?
    rm -rf "${venv}.preparing"
    return "${rc}"
}

make_venv() {
    local version="$1" venv="$2"
    log "${version}: making ${venv}"
    # (called in a || list: errexit is off here, every command checks its own failure)
    rm -rf "${venv}" || return 1
    # the main venv's interpreter is the bootstrap's Python 3.12: a controller Python of the whole range
    "${MAIN_VENV}/bin/python" -m venv "${venv}" || return 1
    pins "${version}" >"${venv}/requirements.txt" || return 1
    if ! "${venv}/bin/python" -m pip install --disable-pip-version-check -q -r "${venv}/requirements.txt" \
        >"${venv}/pip.log" 2>&1; then
        grep -v "^WARNING: Location 'file://" "${venv}/pip.log" | tail -30 >&2
        log "${version}: pip install failed (${venv}/pip.log)"
        return 1
    fi
    pins "${version}" | sha256sum | cut -d' ' -f1 >"${venv}/.xoauth2-matrix"
}

# the version's venv first on PATH: its ansible-test, ansible-playbook and python3.12
use_venv() {
    local venv
    venv="$(venv_of "$1")"
    export PATH="${venv}/bin:${PATH}" VIRTUAL_ENV="${venv}" ANSIBLE_PYTHON_INTERPRETER="${venv}/bin/python"
}

sanity() {
    [ "$(venv_of "$1")" = "${MAIN_VENV}" ] && { log "$1: sanity is the main sanity step's"; return 0; }
    (use_venv "$1"
     SANITY_PYTHON=3.12 SANITY_DEST="${MATRIX}/sanity-$1/ansible_collections/xoauth2/mail" \
         bash "${REPO}/scripts/sanity.sh")
}

unit() {
    [ "$(venv_of "$1")" = "${MAIN_VENV}" ] && { log "$1: unit tests are the main pytest step's"; return 0; }
    (use_venv "$1"; cd "${REPO}" && python -m pytest -q -p no:cacheprovider tests/unit)
}

smoke() {
    local work rc=0
    [ -n "${XOAUTH2_STACK_ISSUER:-}" ] || die "no test stack in the environment: eval \"\$(python tests/stack/stack.py env)\""
    work="$(mktemp -d /tmp/xoauth2-matrix.XXXXXX)"
    openssl rand -base64 32 >"${work}/token.key"
    (use_venv "$1"
     export XOAUTH2_MATRIX_WORK="${work}" ANSIBLE_LOCALHOST_WARNING=False ANSIBLE_INVENTORY_UNPARSED_WARNING=False
     cd "${REPO}/tests/matrix" &&
         ansible-playbook -i localhost, -c local smoke.yml &&
         ansible-playbook -i localhost, -c local --check roles_check.yml) || rc=$?
    rm -rf "${work}"
    return "${rc}"
}

run() {
    local step="$1" version="$2" start=${SECONDS}
    log "${version}: ${step}"
    if [ "${step}" != prepare ] && ! venv_ready "${version}"; then
        await_other_prepare "${version}"
        venv_ready "${version}" || prepare "${version}" || { FAILED+=("${version} prepare"); return 0; }
    fi
    if "${step}" "${version}"; then
        log "${version}: ${step} passed ($((SECONDS - start)) s)"
    else
        log "${version}: ${step} FAILED ($((SECONDS - start)) s)"
        FAILED+=("${version} ${step}")
    fi
}

STEPS=("$@")
[ "${#STEPS[@]}" -gt 0 ] || STEPS=(all)
[ "${STEPS[*]}" != all ] || STEPS=(prepare sanity unit smoke)
for step in "${STEPS[@]}"; do
    case "${step}" in prepare|sanity|unit|smoke) ;; *) die "unknown step ${step} (prepare|sanity|unit|smoke|all)" ;; esac
done
FAILED=()
for step in "${STEPS[@]}"; do
    for version in "${VERSIONS[@]}"; do
        if [ "${step}" != prepare ] && printf '%s\n' "${FAILED[@]}" | grep -qx "${version} prepare"; then continue; fi
        run "${step}" "${version}"
    done
done
if [ "${#FAILED[@]}" -gt 0 ]; then
    log "failed: ${FAILED[*]}"
    exit 1
fi
log "passed: ${STEPS[*]} on ansible-core ${VERSIONS[*]}"
