#!/usr/bin/env bash
# The browser test needs Debian's Chromium (Playwright cannot download its own here).
# In CI (CI=true) it is installed when missing; elsewhere the test skips with a reason.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "${CI:-}" = "true" ]; then
  echo "CI: installing Debian's chromium for the browser test..."
  if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  command -v chromium >/dev/null || { echo "chromium did not install; the browser test cannot run" >&2; exit 1; }
fi
