# xoauth2.mail developer entry points. Every target works from a fresh clone:
# the venv (.venv, Python 3.12) and the collection path are made on demand.
#
#   make bootstrap    venv + Python deps + test stack packages (idempotent)
#   make test         everything CI runs (pytest, ansible-test sanity, ansible-lint, molecule)
#   make unit         pytest tests/unit
#   make integration  test stack + pytest tests/integration + molecule
#   make sanity       ansible-test sanity (on a copy in .build/ansible_collections/xoauth2/mail)
#   make lint         ruff, mypy (plugins/module_utils), ansible-lint --profile production
#   make demo         run demo/demo.yml against the local test stack
#   make bench        run benchmarks/*.py (figures and ratios against a baseline of the same run)
#   make clean        remove build/test output (keeps .venv; `make distclean` removes it too)

SHELL := /bin/bash
.DEFAULT_GOAL := help
REPO := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))

.PHONY: help bootstrap test demo bench sanity lint unit integration molecule clean distclean env

help:
	@sed -n 's/^#   make /  make /p' "$(REPO)/Makefile"

bootstrap:
	bash "$(REPO)"/scripts/bootstrap.sh

test:
	bash "$(REPO)"/scripts/test.sh all

unit:
	bash "$(REPO)"/scripts/test.sh unit

integration:
	bash "$(REPO)"/scripts/test.sh integration

molecule:
	bash "$(REPO)"/scripts/test.sh molecule

sanity:
	bash "$(REPO)"/scripts/test.sh sanity

lint:
	bash "$(REPO)"/scripts/test.sh lint

demo:
	bash "$(REPO)"/scripts/demo.sh

bench:
	bash "$(REPO)"/scripts/bench.sh

# print the environment the tests use: eval "$$(make -s env)"
env:
	@bash "$(REPO)"/scripts/collection_path.sh

clean:
	rm -rf "$(REPO)/.build" "$(REPO)/tests/output" "$(REPO)/.pytest_cache" "$(REPO)/.cache" "$(REPO)/.ansible"
	find "$(REPO)" -path "$(REPO)/.venv" -prune -o -name node_modules -prune -o -name __pycache__ -type d -print0 | xargs -0 rm -rf

distclean: clean
	rm -rf "$(REPO)/.venv"
