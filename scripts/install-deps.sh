#!/usr/bin/env bash
# Installs what building and testing Sluice needs on Debian 12: compilers, the client libraries,
# the real servers the tests run against (PostgreSQL 15, MariaDB), Node for the S3 test server,
# and the pinned npm test tools. Idempotent: fast when everything is present.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

pkgs=(build-essential cmake pkg-config clang libclang-rt-14-dev clang-format
      libpq-dev libmariadb-dev zlib1g-dev libzstd-dev freetds-dev freetds-bin libcurl4-openssl-dev libssl-dev liblua5.4-dev
      postgresql-15 postgresql-client-15 mariadb-server mariadb-client iproute2 curl ca-certificates
      openssl bc python3)
command -v node >/dev/null || pkgs+=(nodejs npm)

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "install-deps: missing packages (${missing[*]}); run as root or: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Servers are started by our own scripts in throwaway directories, never by the init system.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ -f "$here/tests/node/package-lock.json" && ! -d "$here/tests/node/node_modules" ]]; then
    echo "install-deps: npm ci (tests/node)"
    (cd "$here/tests/node" && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "install-deps: ok"
