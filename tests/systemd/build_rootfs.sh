#!/usr/bin/env bash
# Copyright (c) xoauth2.mail contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Builds (once) the Debian rootfs that tests/systemd boots with systemd-nspawn, and prints its path.
#
#   tests/systemd/build_rootfs.sh [SUITE]        SUITE: bookworm (default) or trixie
#
# Cached in ${XOAUTH2_NSPAWN_CACHE:-/var/cache/xoauth2-mail/nspawn}/SUITE; rebuilt only when missing
# or when its recipe changed (the stamp holds a hash of this script and the role's pip constraints).
# The rootfs carries what the roles would otherwise download on every boot: python3 (Ansible's
# modules), python3-apt, python3-venv, postfix and libsasl2-modules, and the helper's venv at the
# role's default path with the pinned packages (pip there then finds them installed). Tests boot it
# with --volatile=overlay, so it stays untouched.
set -euo pipefail

SUITE="${1:-bookworm}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "${HERE}/../.." && pwd)"
CACHE="${XOAUTH2_NSPAWN_CACHE:-/var/cache/xoauth2-mail/nspawn}"
ROOTFS="${CACHE}/${SUITE}"
MIRROR="${XOAUTH2_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
CONSTRAINTS="${REPO}/roles/relay_helper/files/constraints.txt"
VENV=/opt/xoauth2-relay/venv
INCLUDE=systemd,systemd-sysv,dbus,procps,python3,python3-apt,python3-venv,ca-certificates

log() { echo "build_rootfs: $*" >&2; }

recipe="$(cat "${BASH_SOURCE[0]}" "${CONSTRAINTS}" | sha256sum | cut -c1-16)"
if [ -f "${ROOTFS}/.xoauth2-rootfs" ] && [ "$(cat "${ROOTFS}/.xoauth2-rootfs")" = "${recipe}" ]; then
    echo "${ROOTFS}"
    exit 0
fi

need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v systemd-nspawn >/dev/null || need+=(systemd-container)
if [ "${#need[@]}" -gt 0 ]; then
    # no recommends: libnss-mymachines would edit /etc/nsswitch.conf
    log "installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >&2
fi

mkdir -p "${CACHE}"
if [ -d "${ROOTFS}" ] && [ ! -d "${ROOTFS}.build" ] && [ "$(cat "${ROOTFS}/.debootstrap-include" 2>/dev/null)" = "${INCLUDE}" ]; then
    # an older recipe on the same debootstrap stage: keep that stage, redo the rest
    mv "${ROOTFS}" "${ROOTFS}.build"
    rm -f "${ROOTFS}.build/.xoauth2-rootfs"
    touch "${ROOTFS}.build/.debootstrap-done"
fi
# A failed build is resumed: the debootstrap stage is kept (it is the slow part) and the rest is idempotent.
work="${ROOTFS}.build"
trap 'rmdir "/run/systemd/nspawn/propagate/xoauth2-build-$$" 2>/dev/null || true' EXIT
if [ ! -f "${work}/.debootstrap-done" ] || [ "$(cat "${work}/.debootstrap-include" 2>/dev/null)" != "${INCLUDE}" ]; then
    rm -rf "${work}"
    log "debootstrap ${SUITE} into ${work} (one to two minutes)"
    debootstrap --variant=minbase --include="${INCLUDE}" "${SUITE}" "${work}" "${MIRROR}" >&2
    echo "${INCLUDE}" >"${work}/.debootstrap-include"
    touch "${work}/.debootstrap-done"
fi

# Postfix with debconf's "No configuration" (no main.cf: the postfix_relay role writes it), then the
# helper's venv from this machine's wheel sources (pip's find-links and file indexes, read-only).
# A plain nspawn run (no boot): nothing starts, the host's network is shared.
binds=()
pip_env=()
for dir in /opt/wheels /opt/pypi /opt/pypi-more; do
    if [ -d "${dir}" ]; then binds+=("--bind-ro=${dir}"); fi
done
for var in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_FIND_LINKS; do
    if [ -n "${!var:-}" ]; then pip_env+=("--setenv=${var}=${!var}"); fi
done
extra_index="$(pip config get global.extra-index-url 2>/dev/null || true)"
find_links="$(pip config get global.find-links 2>/dev/null || true)"
[ -z "${extra_index}" ] || pip_env+=("--setenv=PIP_EXTRA_INDEX_URL=${extra_index}")
[ -z "${find_links}" ] || [ -n "${PIP_FIND_LINKS:-}" ] || pip_env+=("--setenv=PIP_FIND_LINKS=${find_links}")
# the host's trust store (it may hold a proxy's CA that the guest's does not)
host_ca="${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}"
if [ -f "${host_ca}" ]; then
    binds+=("--bind-ro=${host_ca}:/run/host-ca.crt")
    pip_env+=("--setenv=PIP_CERT=/run/host-ca.crt")
fi
cp "${CONSTRAINTS}" "${work}/root/constraints.txt"  # nspawn mounts a tmpfs on /tmp
log "postfix and the helper's venv"
name="xoauth2-build-$$"
systemd-nspawn --register=no --keep-unit -q -D "${work}" -M "${name}" "${binds[@]}" "${pip_env[@]}" \
    --setenv=DEBIAN_FRONTEND=noninteractive --setenv=PIP_DISABLE_PIP_VERSION_CHECK=1 \
    /bin/sh -ec "
        echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
        apt-get update -q
        apt-get install -y -q --no-install-recommends postfix libsasl2-modules
        apt-get clean
        # the postfix_relay role writes main.cf, then enables and starts Postfix
        systemctl disable postfix.service
        python3 -m venv ${VENV}
        ${VENV}/bin/pip install -q -c /root/constraints.txt 'cryptography>=44.0.1' 'requests>=2.32.4' 'msal>=1.28'
        rm -f /root/constraints.txt
        rm -rf /root/.cache
    " >&2
# nspawn leaves an empty propagate folder behind (/run is no tmpfs here)
rmdir "/run/systemd/nspawn/propagate/${name}" 2>/dev/null || true

rm -f "${work}/.debootstrap-done"
echo "${recipe}" >"${work}/.xoauth2-rootfs"
rm -rf "${ROOTFS}"
mv "${work}" "${ROOTFS}"
log "ready: ${ROOTFS}"
echo "${ROOTFS}"
