#!/bin/sh
# Install Debian's headless Chromium for the web UI's browser tests, which Playwright for Python
# drives through its executable (tests/index/web/conftest.py); Playwright never downloads a
# browser. chromium-driver (chromedriver) comes too, as issue 7 names both packages, though the
# tests no longer use it. Idempotent: does nothing when both are already there. Run by
# scripts/test; installing needs root or sudo (scripts/apt-install.sh).
set -eu
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
echo "install-browser: installing chromium chromium-driver"
sh "$(dirname "$0")/apt-install.sh" chromium chromium-driver
command -v chromium >/dev/null && command -v chromedriver >/dev/null
