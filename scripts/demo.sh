#!/usr/bin/env bash
# `make demo`: bootstrap, start the local test stack (unless it already runs),
# run demo/demo.yml against localhost with this checkout as xoauth2.mail, and
# stop the stack again if this script started it.
#
#   scripts/demo.sh [extra ansible-playbook args, e.g. -v or --check]
# Env: XOAUTH2_KEEP_STACK=1 leaves a stack this script started running.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${REPO}"
PLAYBOOK="${REPO}/demo/demo.yml"

log() { printf '[demo] %s\n' "$*"; }

bash "${REPO}/scripts/bootstrap.sh"
# shellcheck source=scripts/collection_path.sh
source "${REPO}/scripts/collection_path.sh"

if [ ! -f "${PLAYBOOK}" ]; then
    log "demo/demo.yml does not exist yet" >&2
    exit 1
fi

STARTED=0
stop_stack() {
    if [ "${STARTED}" = 1 ]; then
        if [ "${XOAUTH2_KEEP_STACK:-0}" = 1 ]; then
            log "XOAUTH2_KEEP_STACK=1: leaving the test stack running (stop: python tests/stack/stack.py stop)"
        else
            log "stopping the test stack"
            python "${REPO}/tests/stack/stack.py" stop </dev/null || log "stack stop failed"
        fi
    fi
}
trap stop_stack EXIT

if [ -f "${REPO}/tests/stack/stack.py" ]; then
    # status: 0 all services run, 1 some do, 3 none do
    st=0
    python "${REPO}/tests/stack/stack.py" status >/dev/null 2>&1 || st=$?
    if [ "${st}" = 0 ]; then
        log "test stack already running: using it"
    else
        if [ "${st}" = 1 ]; then
            log "test stack partly running: starting the rest (and leaving it running)"
        else
            log "starting the test stack"
            STARTED=1
        fi
        python "${REPO}/tests/stack/stack.py" start </dev/null
    fi
    eval "$(python "${REPO}/tests/stack/stack.py" env)"
else
    log "tests/stack/stack.py not present: running without the test stack"
fi

inventory=()
for inv in "${REPO}/demo/inventory" "${REPO}/demo/inventory.yml" "${REPO}/demo/hosts.yml" "${REPO}/demo/hosts"; do
    if [ -e "${inv}" ]; then inventory=(-i "${inv}"); break; fi
done

log "ANSIBLE_COLLECTIONS_PATH=${ANSIBLE_COLLECTIONS_PATH}"
log "ansible-playbook ${inventory[*]} demo/demo.yml $*"
ansible-playbook "${inventory[@]}" "${PLAYBOOK}" "$@"
