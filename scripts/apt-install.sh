#!/bin/sh
# apt-get install PACKAGES, as root or through sudo; a clear message when neither is possible.
# Shared by scripts/install-browser.sh and scripts/services.sh.
set -eu
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "apt-install: installing $* needs root or sudo; run as root, or install them" >&2
        exit 1
    fi
    SUDO="sudo"
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "apt-install: no apt-get here (not Debian or Ubuntu): install $* by hand" >&2
    exit 1
fi
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
