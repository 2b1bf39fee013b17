#!/usr/bin/env bash
# Make the checkout importable as ansible_collections.xoauth2.mail and export
# the environment that pytest, ansible-playbook and molecule need.
#
#   source scripts/collection_path.sh    # sets the variables in this shell
#   bash scripts/collection_path.sh      # prints them as `export` lines
#
# Layout: <repo>/.build/collections/ansible_collections/xoauth2/mail is a
# relative symlink to the repo root, so it survives moving the checkout.
# (ansible-test refuses symlinks; scripts/sanity.sh makes a real copy instead.)

_xm_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_xm_coll="${_xm_repo}/.build/collections"
_xm_link="${_xm_coll}/ansible_collections/xoauth2/mail"

mkdir -p "${_xm_coll}/ansible_collections/xoauth2"
if [ "$(readlink "${_xm_link}" 2>/dev/null || true)" != "../../../.." ]; then
    rm -rf "${_xm_link}"
    ln -s ../../../.. "${_xm_link}"
fi

export XOAUTH2_MAIL_REPO="${_xm_repo}"
export ANSIBLE_COLLECTIONS_PATH="${_xm_coll}"
# Managed host = localhost with the dev venv's Python (has msal, cryptography...).
export ANSIBLE_PYTHON_INTERPRETER="${_xm_repo}/.venv/bin/python"
export ANSIBLE_HOST_KEY_CHECKING=False
export ANSIBLE_RETRY_FILES_ENABLED=False
export PYTHONDONTWRITEBYTECODE=1
case ":${PYTHONPATH:-}:" in
    *":${_xm_coll}:"*) ;;
    *) export PYTHONPATH="${_xm_coll}${PYTHONPATH:+:${PYTHONPATH}}" ;;
esac
case ":${PATH}:" in
    *":${_xm_repo}/.venv/bin:"*) ;;
    *) export PATH="${_xm_repo}/.venv/bin:${PATH}" ;;
esac
export VIRTUAL_ENV="${_xm_repo}/.venv"

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    for _xm_var in XOAUTH2_MAIL_REPO ANSIBLE_COLLECTIONS_PATH \
        ANSIBLE_PYTHON_INTERPRETER ANSIBLE_HOST_KEY_CHECKING ANSIBLE_RETRY_FILES_ENABLED \
        PYTHONDONTWRITEBYTECODE PYTHONPATH PATH VIRTUAL_ENV; do
        printf 'export %s=%q\n' "${_xm_var}" "${!_xm_var}"
    done
fi
unset _xm_repo _xm_coll _xm_link _xm_var
