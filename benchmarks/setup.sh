#!/usr/bin/env bash
# Prepare everything benchmarks/run.py needs. Idempotent: safe to run again.
#   - Debian packages nginx (the static-file ceiling) and wrk (the load generator);
#   - benchmarks/.work/venv with the hash-pinned pypiserver, devpi-server, devpi-client
#     and twine of benchmarks/requirements.txt.
# trustyard itself runs from the project's environment (.venv), which `uv run` syncs.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$here/.work"
venv="$work/venv"

# This machine's pip configuration adds find-links and file:// indexes; keep them out.
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL
export UV_NO_CONFIG=1

missing=()
[ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]} from Debian"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
# Debian's package may have started a system nginx; the benchmark runs its own.

mkdir -p "$work"
if [ ! -x "$venv/bin/python" ]; then
    echo "setup: creating $venv"
    uv venv --quiet --python "$(command -v python3)" "$venv"
fi
# Installs exactly the pinned set (and removes anything else), verifying hashes.
uv pip sync --quiet --python "$venv/bin/python" --index-url https://pypi.org/simple \
    --require-hashes "$here/requirements.txt"

export PYTHONWARNINGS=ignore  # pyramid's pkg_resources deprecation notice
"$venv/bin/pypi-server" --version >/dev/null
"$venv/bin/devpi-server" --version >/dev/null
"$venv/bin/twine" --version >/dev/null
echo "setup: ok (nginx $(/usr/sbin/nginx -v 2>&1 | sed 's/.*nginx\///'), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2))"
echo "setup: pypiserver $("$venv/bin/pypi-server" --version), devpi-server $("$venv/bin/devpi-server" --version)"
