#!/usr/bin/env bash
# Run `ansible-test sanity` on a real copy of the collection.
#
# ansible-test wants the collection at .../ansible_collections/<ns>/<name> as a
# real directory (symlinks are refused), so the tree is copied to
#   .build/ansible_collections/xoauth2/mail
# The copy holds exactly the files git would show: tracked + untracked but
# not ignored (uncommitted work is checked too), minus deleted files. It gets a
# fresh `git init` so ansible-test's git file lister honours .gitignore there.
#
# Usage: scripts/sanity.sh [extra ansible-test sanity args, e.g. --test pep8]
# Env:   SANITY_PYTHON=3.12  run on that one Python only (default: compile and
#        import on every Python 3.9-3.14 found, incl. pyenv's; the rest on 3.12)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/collection_path.sh
source "${REPO}/scripts/collection_path.sh"
# SANITY_DEST: another copy (scripts/core_matrix.sh runs older ansible-tests on its own)
DEST="${SANITY_DEST:-${REPO}/.build/ansible_collections/xoauth2/mail}"

log() { printf '[sanity] %s\n' "$*"; }

command -v ansible-test >/dev/null 2>&1 || { log "ansible-test not found: run 'make bootstrap' first" >&2; exit 1; }

# 1. offline get-pip for ansible-test's venvs (core 2.21 -> 25_2, 2.19 -> 24_2, 2.16 -> 23_1_2)
CACHE="${HOME}/.ansible/test/cache"
mkdir -p "${CACHE}"
for v in 25_2 24_2 23_1_2; do
    cmp -s "${REPO}/scripts/get_pip_shim.py" "${CACHE}/get_pip_${v}.py" ||
        cp "${REPO}/scripts/get_pip_shim.py" "${CACHE}/get_pip_${v}.py"
done

# 2. fresh copy of the tree. Its tests/output is kept across runs: ansible-test
#    keeps its delegation venv and import-test venvs there (saves ~30 s a run).
KEEP="${DEST%/ansible_collections/*}/sanity-output"
rm -rf "${KEEP}"
if [ -d "${DEST}/tests/output" ]; then mv "${DEST}/tests/output" "${KEEP}"; fi
rm -rf "${DEST}"
mkdir -p "${DEST}/tests"
if [ -d "${KEEP}" ]; then mv "${KEEP}" "${DEST}/tests/output"; fi
cd "${REPO}"
if git -C "${REPO}" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # tracked + untracked-not-ignored, existing files only (skips deleted ones)
    git -C "${REPO}" ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do
            case "${f}" in .venv|.venv/*|.build/*|node_modules/*|*/node_modules/*|tests/output/*) continue ;; esac
            if [ -e "${f}" ] || [ -L "${f}" ]; then printf '%s\0' "${f}"; fi
        done |
        tar -C "${REPO}" --null --no-recursion -T - -cf - | tar -C "${DEST}" -xf -
else
    tar -C "${REPO}" --exclude=./.venv --exclude=./.build --exclude=node_modules \
        --exclude=./tests/output --exclude=__pycache__ --exclude=.pytest_cache -cf - . |
        tar -C "${DEST}" -xf -
fi
git -C "${DEST}" init -q
log "copied $(git -C "${DEST}" ls-files --others --exclude-standard | wc -l) files to ${DEST}"

# 3. run. Without --python, ansible-test runs the version-specific tests
#    (compile, import) on every Python from tests/config.yml it finds on PATH,
#    and the rest on the controller (this venv's 3.12). Put pyenv's 3.9-3.13
#    on PATH so modules are checked on the managed-host Pythons too.
args=(--venv)
if [ -n "${SANITY_PYTHON:-}" ]; then
    args+=(--python "${SANITY_PYTHON}")
else
    root="$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-${HOME}/.pyenv}")"
    extra=""
    for v in 3.9 3.10 3.11 3.13 3.14; do
        command -v "python${v}" >/dev/null 2>&1 && "python${v}" -V >/dev/null 2>&1 && continue
        bin="$(printf "%s\n" "${root}/versions/${v}".*/bin | sort -V | tail -1)"
        if [ -n "${bin}" ] && [ -x "${bin}/python${v}" ]; then extra="${extra}:${bin}"; fi
    done
    # after the venv, so python3.12 stays the venv's
    PATH="${VIRTUAL_ENV}/bin${extra}:${PATH}"
fi

start=${SECONDS}
log "ansible-test sanity ${args[*]} $*"
(cd "${DEST}" && ansible-test sanity "${args[@]}" "$@")
log "passed in $((SECONDS - start)) s"
