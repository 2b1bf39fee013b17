#!/usr/bin/env bash
# `make bench`: run every benchmarks/*.py with the project venv and the test stack.
# Each prints its own figures and ratios against a baseline measured in the same run.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${REPO}"
bash "${REPO}/scripts/bootstrap.sh"
# shellcheck source=scripts/collection_path.sh
source "${REPO}/scripts/collection_path.sh"

STARTED=0
if ! python "${REPO}/tests/stack/stack.py" status >/dev/null 2>&1; then
    STARTED=1
    python "${REPO}/tests/stack/stack.py" start </dev/null
fi
stop_stack() {
    if [ "${STARTED}" = 1 ]; then python "${REPO}/tests/stack/stack.py" stop </dev/null || true; fi
}
trap stop_stack EXIT
eval "$(python "${REPO}/tests/stack/stack.py" env)"

for bench in "${REPO}"/benchmarks/*.py; do
    printf '\n==> %s\n' "${bench#"${REPO}"/}"
    python "${bench}"
done
