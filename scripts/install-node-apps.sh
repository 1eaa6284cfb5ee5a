#!/usr/bin/env bash
# Installs, idempotently, the npm packages of the platform's NestJS services (apps/): `npm ci`
# from the committed apps/package-lock.json into apps/node_modules (npm's own cache, ~/.npm,
# makes a reinstall offline). A marker holding the lock file's hash makes a second run instant;
# a changed lock installs again. Plain JavaScript: no build step follows.
# Needs Node.js 20 or newer (NestJS 11; NestJS 12 wants Node 22).
#   usage: scripts/install-node-apps.sh
set -euo pipefail
cd "$(dirname "$0")/../apps"
[ $# -eq 0 ] || { echo "install-node-apps: no arguments expected, got $1" >&2; exit 64; }

command -v node > /dev/null && command -v npm > /dev/null \
  || { echo "install-node-apps: node and npm missing (Node.js 20 or newer)" >&2; exit 1; }
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || { echo "install-node-apps: Node.js $major is too old (20 or newer)" >&2; exit 1; }

marker="node_modules/.installed-$(sha256sum package-lock.json | cut -c1-16)"
[ -f "$marker" ] && exit 0
exec 9> "${XDG_CACHE_HOME:-$HOME/.cache}/.install-node-apps.lock"
flock 9
[ -f "$marker" ] && exit 0
echo "install-node-apps: npm ci in apps/" >&2
npm ci --prefer-offline --no-audit --no-fund --loglevel=error > /dev/null
touch "$marker"
