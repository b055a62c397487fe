#!/usr/bin/env bash
# Jupyter Book 2 (make book, and the site build in make test) runs on Node.js 18 or newer.
# In CI (CI=true) Debian's nodejs is installed when it is missing or too old; elsewhere this
# says how to install it and fails, because the site cannot be built without it.
set -euo pipefail
node_major() { node --version 2>/dev/null | sed -n 's/^v\([0-9][0-9]*\)\..*/\1/p'; }
major="$(node_major || true)"
if [ -n "$major" ] && [ "$major" -ge 18 ]; then
  exit 0
fi
found="${major:+Node.js $major is too old}"
found="${found:-Node.js is not installed}"
if [ "${CI:-}" = "true" ]; then
  echo "CI: $found; installing Debian's nodejs for the course site..."
  if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs >/dev/null
  major="$(node_major || true)"
  if [ -n "$major" ] && [ "$major" -ge 18 ]; then exit 0; fi
  echo "nodejs from apt is ${major:-missing}: the course site needs Node.js 18 or newer" >&2
  exit 1
fi
cat >&2 <<MSG
$found, and the course site (Jupyter Book 2) needs Node.js 18 or newer.
Install it, then run the command again:
  Debian/Ubuntu:  sudo apt install nodejs      (Debian 12 gives 18, Debian 13 gives 20)
  macOS:          brew install node
  Windows:        winget install OpenJS.NodeJS.LTS
MSG
exit 1
