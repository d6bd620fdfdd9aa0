#!/bin/sh
# Install Debian's headless Chromium for the web UI's browser tests, which Playwright for Python
# drives through its executable (tests/index/web/conftest.py); Playwright never downloads a
# browser. chromium-driver (chromedriver) comes too, as issue 7 names both packages, though the
# tests no longer use it. Idempotent: does nothing when both are already there.
set -eu
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium chromium-driver
command -v chromium >/dev/null && command -v chromedriver >/dev/null
