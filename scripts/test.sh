#!/usr/bin/env bash
# The test driver behind `make test` (and `make unit|integration|sanity|lint|molecule`).
#
#   scripts/test.sh [all|unit|integration|sanity|lint|molecule|systemd|matrix]   (default: all)
#
# all = bootstrap -> start test stack -> pytest tests/unit tests/integration
#       -> ansible-test sanity -> antsibull-docs lint -> docs site (scripts/docsite.sh)
#       -> ruff, mypy, ansible-lint --profile production
#       -> molecule test --all (extensions/molecule)
#       -> pytest tests/systemd (the roles under systemd in a systemd-nspawn container)
#       (beside them, in the background: the core matrix, scripts/core_matrix.sh: sanity, unit tests
#        and smoke plays on ansible-core 2.16/2.19/2.21; see start_bg below)
#       -> stop stack (on exit)
# Every step runs even if an earlier one failed; the exit code is non-zero
# if any step failed. A summary is printed at the end.
#
# Env knobs: PYTEST_ADDOPTS (e.g. "-n 2" or "-k foo"), XOAUTH2_SKIP_STACK_INSTALL=1,
#            XOAUTH2_KEEP_STACK=1 (do not stop a stack this script started),
#            XOAUTH2_NO_STACK=1 (do not start the stack; stack tests will fail/skip),
#            SANITY_PYTHON=3.12 (sanity on one Python only, see scripts/sanity.sh).
set -euo pipefail
# CI gives no standard input (fd 0 may be closed): Ansible workers and `script`
# need a valid one, so every step reads from /dev/null.
exec </dev/null

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${REPO}"
MODE="${1:-all}"
LOGDIR="${REPO}/.build/test-logs"

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
[ -t 1 ] || say() { printf '\n==> %s\n' "$*"; }

SUMMARY=()
FAILED=0

# run_step NAME TIMEOUT_SECONDS FUNCTION [ARGS...]
# Runs FUNCTION in a subshell with errexit active; records PASS/FAIL/SKIP.
# A function signals "skipped" by exiting 99.
run_step() {
    local name="$1" limit="$2" rc start
    shift 2
    say "${name}"
    start=${SECONDS}
    set +e
    (set -euo pipefail; "$@") </dev/null
    rc=$?
    set -e
    local took=$((SECONDS - start))
    case "${rc}" in
        0) SUMMARY+=("PASS  ${name} (${took}s)") ;;
        99) SUMMARY+=("SKIP  ${name} (${took}s)") ;;
        *) SUMMARY+=("FAIL  ${name} (${took}s, exit ${rc})"); FAILED=1 ;;
    esac
    if [ "${rc}" != 0 ] && [ "${rc}" != 99 ] && [ "${took}" -ge "${limit}" ]; then
        echo "!! ${name} hit its ${limit}s time limit"
    fi
}

# --- steps ------------------------------------------------------------------------

do_bootstrap() {
    bash "${REPO}/scripts/bootstrap.sh"
}

# In CI (CI=true) every long step gets a time limit. Not interactively:
# `timeout` puts its child in another process group, so Ctrl-C would not reach it.
limit() {
    if [ -n "${CI:-}" ]; then timeout -k 30 "$@"; else shift; "$@"; fi
}

STACK_MARK="${LOGDIR}/.stack-started-by-test.$$"
stack_py() { python "${REPO}/tests/stack/stack.py" "$@"; }

start_stack() {
    if [ "${XOAUTH2_NO_STACK:-0}" = 1 ]; then
        echo "XOAUTH2_NO_STACK=1: not starting the test stack"
        exit 99
    fi
    if [ ! -f "${REPO}/tests/stack/stack.py" ]; then
        echo "tests/stack/stack.py not present yet: running without the test stack"
        exit 99
    fi
    # status: 0 all services run, 1 some do, 3 none do
    local st=0
    stack_py status >/dev/null 2>&1 || st=$?
    case "${st}" in
        0)
            echo "test stack already running: using it (and leaving it running)"
            return 0 ;;
        1)
            echo "test stack partly running (someone else's?): starting the rest, leaving it running afterwards" ;;
        *)
            mkdir -p "${LOGDIR}"
            : >"${STACK_MARK}" ;;  # from here on, the EXIT trap stops it
    esac
    limit 300 python "${REPO}/tests/stack/stack.py" start
}

# the stack's endpoints, CA paths and test accounts (XOAUTH2_STACK_*) for
# molecule / ansible-playbook; pytest's conftest reads them itself
stack_env() {
    if [ "${XOAUTH2_NO_STACK:-0}" != 1 ] && [ -f "${REPO}/tests/stack/stack.py" ]; then
        local lines
        if lines="$(stack_py env 2>/dev/null)"; then eval "${lines}"; fi
    fi
}

stop_stack() {
    if [ -f "${STACK_MARK}" ]; then
        rm -f "${STACK_MARK}"
        if [ "${XOAUTH2_KEEP_STACK:-0}" = 1 ]; then
            echo "XOAUTH2_KEEP_STACK=1: leaving the test stack running (python tests/stack/stack.py stop)"
            return 0
        fi
        say "stopping the test stack"
        limit 120 python "${REPO}/tests/stack/stack.py" stop </dev/null || echo "!! stack stop failed"
    fi
}

# pytest over the given dirs. Exit 5 (no tests collected) passes only when the
# dirs really contain no test files yet.
do_pytest() {
    local dirs=() d n rc
    for d in "$@"; do
        if [ -d "${REPO}/${d}" ]; then dirs+=("${d}"); fi
    done
    n=0
    if [ "${#dirs[@]}" -gt 0 ]; then
        n=$(find "${dirs[@]}" -name node_modules -prune -o -type f \( -name 'test_*.py' -o -name '*_test.py' \) -print | wc -l)
    fi
    if [ "${n}" -eq 0 ]; then
        echo "no test files in $* yet: nothing for pytest to run"
        exit 99
    fi
    mkdir -p "${LOGDIR}"
    set +e
    # --durations: every CI log lists the slowest tests (the CI time budget, docs/testing.md)
    limit 1200 python -m pytest -q --durations=25 "${dirs[@]}" 2>&1 | tee "${LOGDIR}/pytest.log"
    rc=${PIPESTATUS[0]}
    set -e
    if [ "${rc}" = 5 ]; then
        echo "!! pytest collected no tests although ${n} test file(s) exist in ${dirs[*]}"
    fi
    exit "${rc}"
}

do_sanity() {
    limit 1200 bash "${REPO}/scripts/sanity.sh"
}

# ruff (a small rule set, pyproject.toml) over the Python code, mypy over the typed core
# (plugins/module_utils), then ansible-lint; every one runs, the step fails if any fails.
do_lint() {
    local rc=0
    echo "-- ruff check"
    limit 300 ruff check "${REPO}" || rc=1
    echo "-- mypy (plugins/module_utils)"
    (cd "${REPO}" && limit 300 mypy) || rc=1
    echo "-- ansible-lint --profile production"
    limit 600 ansible-lint --profile production || rc=1
    return "${rc}"
}

# Plugin docs must render with antsibull-docs; changelog fragments must be valid.
# Runs on the copy scripts/sanity.sh makes (a real ansible_collections path).
do_docs() {
    local copy="${REPO}/.build/ansible_collections/xoauth2/mail"
    if [ ! -d "${copy}" ]; then
        echo "no collection copy at ${copy}: run the sanity step first"
        exit 1
    fi
    cd "${copy}"
    ANSIBLE_COLLECTIONS_PATH="${REPO}/.build" limit 600 antsibull-docs lint-collection-docs --plugin-docs .
    limit 120 antsibull-changelog lint
}

# The docs site (plugin docs + guides), failing on any Sphinx warning. The lint of
# do_docs already ran on the same docs, so the site's own lint is skipped here.
do_docsite() {
    DOCSITE_LINT=0 limit 600 bash "${REPO}/scripts/docsite.sh"
}

do_molecule() {
    local d="${REPO}/extensions/molecule"
    if [ ! -d "${d}" ] || [ -z "$(find "${d}" -name molecule.yml -print -quit)" ]; then
        echo "no molecule scenarios in extensions/molecule yet"
        exit 99
    fi
    if ! grep -rqsE '^[[:space:]]*prerun:[[:space:]]*false' "${d}"; then
        echo "!! warning: no 'prerun: false' in extensions/molecule: molecule may install a stale copy of the collection into ~/.ansible/collections"
    fi
    limit 1200 molecule test --all
}

# The roles under a real systemd: a Debian rootfs (built once by tests/systemd/build_rootfs.sh and
# cached in /var/cache/xoauth2-mail/nspawn) booted with systemd-nspawn. Needs root and apt.
do_systemd() {
    if [ ! -d "${REPO}/tests/systemd" ]; then
        echo "no tests/systemd yet"
        exit 99
    fi
    if [ "$(id -u)" != 0 ]; then
        echo "tests/systemd needs root (systemd-nspawn)"
        exit 99
    fi
    mkdir -p "${LOGDIR}"
    limit 900 bash "${REPO}/tests/systemd/build_rootfs.sh" "${XOAUTH2_NSPAWN_SUITE:-bookworm}"
    set +e
    limit 900 python -m pytest -q -p no:cacheprovider tests/systemd 2>&1 | tee "${LOGDIR}/pytest-systemd.log"
    local rc=${PIPESTATUS[0]}
    set -e
    exit "${rc}"
}

# The ansible-core matrix (scripts/core_matrix.sh) runs in two background jobs, off the critical path:
# - "matrix-offline" (venvs, the old cores' sanity and unit tests) needs no stack and mostly waits
#   (on pip, ansible-test's venvs, the unit tests' timeouts): it starts with pytest, which mostly waits too;
# - "matrix-smoke" (the smoke plays of every version) reads the IdP's counters, which pytest's tests
#   share and molecule and tests/systemd move: it starts after pytest, beside sanity, docs and lint
#   (which use no stack), and its step waits for it before molecule.
BG_PIDS=()
# start_bg NAME LIMIT COMMAND...: COMMAND in a session of its own (finish() stops all of it),
# output in ${LOGDIR}/NAME.log, exit code in NAME.log.rc
start_bg() {
    local name="$1" seconds="$2" log="${LOGDIR}/$1.log"
    shift 2
    mkdir -p "${LOGDIR}"
    rm -f "${log}.rc"
    local cmd=("$@")
    if [ -n "${CI:-}" ]; then cmd=(timeout -k 30 "${seconds}" "${cmd[@]}"); fi
    # bash -c: $0 is the log, "$@" the command
    # shellcheck disable=SC2016,SC2094
    setsid bash -c 'rc=0; "$@" || rc=$?; echo "${rc}" >"${0}.rc"' "${log}" "${cmd[@]}" >"${log}" 2>&1 </dev/null &
    BG_PIDS+=("$!")
    printf -v "BG_PID_${name//-/_}" '%s' "$!"
}

# wait_bg NAME: wait for a background job (from run_step's subshell, which cannot `wait`), show its output
wait_bg() {
    local var="BG_PID_${1//-/_}" log="${LOGDIR}/$1.log"
    local pid="${!var:-}"
    if [ -z "${pid}" ]; then echo "$1 was not started"; return 1; fi
    while kill -0 "${pid}" 2>/dev/null; do sleep 2; done
    cat "${log}"
    return "$(cat "${log}.rc" 2>/dev/null || echo 1)"
}

stop_bg() {
    local pid
    for pid in "${BG_PIDS[@]}"; do
        # (the group exists once setsid ran; just after the start, only the process does)
        if kill -0 "${pid}" 2>/dev/null; then kill -- "-${pid}" 2>/dev/null || kill "${pid}" 2>/dev/null || true; fi
    done
}

MATRIX=(bash "${REPO}/scripts/core_matrix.sh")
do_matrix() {
    limit 2400 "${MATRIX[@]}" prepare sanity unit smoke
}

# --- main ------------------------------------------------------------------------------

finish() {
    local rc=$?
    stop_bg
    stop_stack
    say "summary (${MODE})"
    local line
    for line in "${SUMMARY[@]}"; do echo "  ${line}"; done
    if [ "${PYTEST_RAN:-0}" = 1 ] && [ -s "${LOGDIR}/pytest.log" ]; then
        # pytest's own closing line, repeated last so that it is easy to find
        echo "  pytest closing line:"
        grep -v '^[[:space:]]*$' "${LOGDIR}/pytest.log" | tail -1
    fi
    if [ "${FAILED}" != 0 ] || [ "${rc}" != 0 ]; then
        echo "RESULT: FAILED"
        exit 1
    fi
    echo "RESULT: OK"
}
trap finish EXIT

source_env() {
    # shellcheck source=scripts/collection_path.sh
    source "${REPO}/scripts/collection_path.sh"
}

pytest_step() {
    rm -f "${LOGDIR}/pytest.log"
    PYTEST_RAN=1
    run_step "$1" 1260 do_pytest "${@:2}"
}

case "${MODE}" in
    all)
        run_step "bootstrap" 900 do_bootstrap
        if [ "${FAILED}" != 0 ]; then exit 1; fi
        source_env
        run_step "start test stack" 300 start_stack
        stack_env
        start_bg matrix-offline 2400 "${MATRIX[@]}" prepare sanity unit
        pytest_step "pytest tests/unit tests/integration" tests/unit tests/integration
        start_bg matrix-smoke 1800 "${MATRIX[@]}" smoke
        run_step "ansible-test sanity" 1200 do_sanity
        run_step "antsibull-docs lint, changelog lint" 600 do_docs
        run_step "docs site (antsibull-docs + guides, warnings fail)" 600 do_docsite
        run_step "lint: ruff, mypy, ansible-lint --profile production" 1200 do_lint
        run_step "core matrix: smoke plays on ansible-core 2.16, 2.19, 2.21 (background)" 1800 wait_bg matrix-smoke
        run_step "molecule test --all" 1200 do_molecule
        run_step "pytest tests/systemd (systemd-nspawn)" 1800 do_systemd
        run_step "core matrix: sanity, unit tests on ansible-core 2.16, 2.19 (background)" 2400 wait_bg matrix-offline
        ;;
    matrix)
        run_step "bootstrap" 900 do_bootstrap
        if [ "${FAILED}" != 0 ]; then exit 1; fi
        source_env
        run_step "start test stack" 300 start_stack
        stack_env
        run_step "core matrix: ansible-core 2.16, 2.19, 2.21 (sanity, unit, smoke)" 2400 do_matrix
        ;;
    unit)
        XOAUTH2_SKIP_STACK_INSTALL=1 run_step "bootstrap (no stack)" 900 do_bootstrap
        if [ "${FAILED}" != 0 ]; then exit 1; fi
        source_env
        pytest_step "pytest tests/unit" tests/unit
        ;;
    integration)
        run_step "bootstrap" 900 do_bootstrap
        if [ "${FAILED}" != 0 ]; then exit 1; fi
        source_env
        run_step "start test stack" 300 start_stack
        stack_env
        pytest_step "pytest tests/integration" tests/integration
        run_step "molecule test --all" 1200 do_molecule
        run_step "pytest tests/systemd (systemd-nspawn)" 1800 do_systemd
        ;;
    systemd)
        run_step "bootstrap" 900 do_bootstrap
        if [ "${FAILED}" != 0 ]; then exit 1; fi
        source_env
        run_step "start test stack" 300 start_stack
        stack_env
        run_step "pytest tests/systemd (systemd-nspawn)" 1800 do_systemd
        ;;
    molecule)
        run_step "bootstrap" 900 do_bootstrap
        if [ "${FAILED}" != 0 ]; then exit 1; fi
        source_env
        run_step "start test stack" 300 start_stack
        stack_env
        run_step "molecule test --all" 1200 do_molecule
        ;;
    sanity)
        XOAUTH2_SKIP_STACK_INSTALL=1 run_step "bootstrap (no stack)" 900 do_bootstrap
        if [ "${FAILED}" != 0 ]; then exit 1; fi
        source_env
        run_step "ansible-test sanity" 1200 do_sanity
        run_step "antsibull-docs lint, changelog lint" 600 do_docs
        run_step "docs site (antsibull-docs + guides, warnings fail)" 600 do_docsite
        ;;
    lint)
        XOAUTH2_SKIP_STACK_INSTALL=1 run_step "bootstrap (no stack)" 900 do_bootstrap
        if [ "${FAILED}" != 0 ]; then exit 1; fi
        source_env
        run_step "lint: ruff, mypy, ansible-lint --profile production" 1200 do_lint
        ;;
    *)
        echo "usage: $0 [all|unit|integration|molecule|sanity|lint|systemd|matrix]" >&2
        exit 2
        ;;
esac
