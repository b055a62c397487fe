#!/usr/bin/env bash
# The course site (make book) draws its diagrams with mermaid's browser script, which npm fetches
# once into ~/.cache/workbook/book/. npm is optional: without it the diagrams show as their text.
# In CI (CI=true) Debian's npm is installed when missing, so the browser test sees them drawn.
set -euo pipefail
if command -v npm >/dev/null 2>&1; then
  exit 0
fi
if [ "${CI:-}" = "true" ]; then
  echo "CI: npm is not installed; installing Debian's npm to fetch mermaid for the course site..."
  if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm >/dev/null
  exit 0
fi
echo "note: npm is not installed, so the course site's diagrams will show as Mermaid text" \
     "(install npm to have them drawn)." >&2
