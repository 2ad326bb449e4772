#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installs every build and test dependency of crosskey on Debian 12. Idempotent: when everything is
# already present it touches neither apt nor the npm registry, so reruns are fast and work offline.
# Run as root (or through sudo) on a fresh machine.
set -eu

root=$(CDPATH="" cd -- "$(dirname -- "$0")/.." && pwd)

# Build: compiler, CMake, and the C libraries (DESIGN.md section 7).
# Test: cmocka (unit), curl and openssl (e2e, bench), jq (shell tests), Node.js + npm (compat),
# chromium and a font for its screenshots (portal browser tests, driven by playwright-core).
debs="build-essential cmake pkg-config libssl-dev libmicrohttpd-dev libcurl4-openssl-dev
      libjansson-dev libxml2-dev libsqlite3-dev libcmocka-dev curl ca-certificates openssl jq
      chromium fonts-dejavu-core"

missing=""
for p in $debs; do
    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
        missing="$missing $p"
    fi
done
# Node.js: any node >= 18 already on PATH is kept (Debian 12's own nodejs is 18, NodeSource's is
# 20). Only a missing node or npm is installed, from Debian.
if ! command -v node >/dev/null 2>&1; then
    missing="$missing nodejs npm"
elif ! command -v npm >/dev/null 2>&1; then
    missing="$missing npm"
fi

if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "setup.sh: missing packages:$missing" >&2
        echo "setup.sh: run as root (sudo $0) to install them" >&2
        exit 1
    fi
    echo "setup.sh: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
else
    echo "setup.sh: Debian packages present"
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 18 ]; then
    echo "setup.sh: Node.js $(node --version) is too old; the compatibility suite needs Node >= 18" >&2
    exit 1
fi

# Compatibility suite: the exact SDK versions in tests/compat/package-lock.json. Skipped when
# node_modules was installed from the same lock file.
compat="$root/tests/compat"
stamp="$compat/node_modules/.crosskey-lock.sha256"
want=$(sha256sum "$compat/package-lock.json" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d "$compat/node_modules/@azure/identity" ]; then
    echo "setup.sh: tests/compat/node_modules up to date"
else
    echo "setup.sh: npm ci in tests/compat"
    (cd "$compat" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
fi
# Portal browser tests: playwright-core from tests/portal/package-lock.json (it downloads no
# browser; the tests drive Debian's /usr/bin/chromium). Skipped when installed from the same lock.
portal="$root/tests/portal"
stamp="$portal/node_modules/.crosskey-lock.sha256"
want=$(sha256sum "$portal/package-lock.json" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d "$portal/node_modules/playwright-core" ]; then
    echo "setup.sh: tests/portal/node_modules up to date"
else
    echo "setup.sh: npm ci in tests/portal"
    (cd "$portal" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
fi
echo "setup.sh: ok (node $(node --version), $(cmake --version | head -n1))"
