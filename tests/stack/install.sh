#!/usr/bin/env bash
# Copyright (c) xoauth2.mail contributors
# SPDX-License-Identifier: GPL-3.0-or-later
# Install what the xoauth2.mail test stack (tests/stack) needs. Idempotent.
#
#   bash tests/stack/install.sh            # IdP (npm ci) + Postfix + Dovecot
#   bash tests/stack/install.sh --idp-only # only the IdP's node modules
#
# Debian 12, as root. Never starts the distro daemons (a policy-rc.d that
# forbids it is in place while apt runs) and never writes /etc/postfix/main.cf
# (Postfix is preseeded with "No configuration"; the stack runs its own
# instances from the runtime dir).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
IDP_ONLY=0
for arg in "$@"; do
    case "$arg" in
        --idp-only) IDP_ONLY=1 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown argument $arg" >&2; exit 2 ;;
    esac
done

log() { echo "install.sh: $*"; }

# ---------------------------------------------------------------- node / IdP
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "install.sh: node and npm are required (Node 20 or newer)" >&2
    exit 1
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
    echo "install.sh: Node $(node --version) is too old; oidc-provider 9 needs Node 20 or newer" >&2
    exit 1
fi

idp_installed() {
    # node_modules matches the lock file (same oidc-provider version)
    (cd "$HERE/idp" && node -e '
        const fs = require("fs");
        const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
        const want = lock.packages["node_modules/oidc-provider"].version;
        const have = JSON.parse(fs.readFileSync("node_modules/oidc-provider/package.json", "utf8")).version;
        process.exit(want === have && fs.existsSync("node_modules/.package-lock.json") ? 0 : 1);
    ' 2>/dev/null)
}

if idp_installed; then
    log "IdP node modules already installed"
else
    log "npm ci in tests/stack/idp"
    (cd "$HERE/idp" && npm ci --no-audit --no-fund --loglevel=error)
fi

[ "$IDP_ONLY" = 1 ] && exit 0

# ------------------------------------------------------- Postfix + Dovecot
PACKAGES=(postfix dovecot-core dovecot-imapd dovecot-lmtpd)
missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
command -v script >/dev/null 2>&1 || missing+=(bsdutils)

if [ "${#missing[@]}" -eq 0 ]; then
    log "apt packages already installed: ${PACKAGES[*]}"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: need root to install ${missing[*]}" >&2
    exit 1
fi

# Keep package scripts from starting daemons while we install.
POLICY=/usr/sbin/policy-rc.d
POLICY_BACKUP=""
restore_policy() {
    if [ -n "$POLICY_BACKUP" ]; then
        mv -f "$POLICY_BACKUP" "$POLICY"
    else
        rm -f "$POLICY"
    fi
}
if [ -e "$POLICY" ] && grep -qx 'exit 101' "$POLICY"; then
    : # already forbids starting services
else
    if [ -e "$POLICY" ]; then
        POLICY_BACKUP="$(mktemp /usr/sbin/policy-rc.d.xoauth2.XXXXXX)"
        cp -p "$POLICY" "$POLICY_BACKUP"
    fi
    printf '#!/bin/sh\nexit 101\n' > "$POLICY"
    chmod 755 "$POLICY"
    trap restore_policy EXIT
fi

export DEBIAN_FRONTEND=noninteractive
debconf-set-selections <<'EOF'
postfix postfix/main_mailer_type select No configuration
postfix postfix/mailname string localhost
EOF

log "apt-get update (missing: ${missing[*]})"
apt-get update -qq
log "apt-get install ${missing[*]}"
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

if [ -e /etc/postfix/main.cf ] && [ "${#missing[@]}" -gt 0 ]; then
    log "note: /etc/postfix/main.cf exists (not written by this script)"
fi
log "done"
