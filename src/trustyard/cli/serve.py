"""``trustyard serve``: run the index."""

from __future__ import annotations

import argparse
from typing import Any

from trustyard.cli.options import add_index_options, settings_from


def register(commands: Any) -> None:
    """Add the ``serve`` command."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "serve", help="run the package index", description="Run the package index."
    )
    add_index_options(parser)
    parser.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port to listen on (default 8080)")
    parser.add_argument("--base-url", default=None, help="public URL, when behind a proxy")
    parser.add_argument(
        "--accel-redirect",
        metavar="PREFIX",
        default=None,
        help="behind nginx: send files with X-Accel-Redirect to this internal location "
        "(see docs/deployment.md)",
    )
    parser.add_argument(
        "--forwarded-allow-ips",
        metavar="ADDRESSES",
        default=None,
        help="proxies (comma-separated, or '*') whose X-Forwarded-For/-Proto are believed",
    )
    parser.add_argument(
        "--max-upload-size", default=None, help="largest accepted file, e.g. 100MiB (default)"
    )
    parser.add_argument(
        "--max-project-size",
        default=None,
        help="largest total of one project's files, e.g. 10GiB (default, as PyPI)",
    )
    parser.add_argument(
        "--new-files-window-days",
        type=int,
        default=None,
        metavar="N",
        help="refuse new files in a release whose first file is older than N days"
        " (default 14, as PyPI; 0: no limit)",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        default=None,
        help="serve HTTPS with a local CA and certificate generated into DATA/tls/ (prints the CA)",
    )
    parser.add_argument(
        "--hostname",
        action="append",
        default=[],
        help="another name for the generated certificate (repeatable)",
    )
    parser.add_argument("--certfile", default=None, help="a real TLS certificate (PEM chain)")
    parser.add_argument("--keyfile", default=None, help="the certificate's private key (PEM)")
    parser.add_argument(
        "--audience",
        default=None,
        help="Trusted Publishing audience (default: the index's own, generated once and kept"
        " in its database; GET /_/oidc/audience shows it)",
    )
    parser.add_argument(
        "--s3-serve",
        choices=["redirect", "stream"],
        default=None,
        help="with --storage s3://: redirect to presigned URLs (default) or stream the bytes",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="server processes sharing the port (default 1)"
    )
    parser.add_argument(
        "--limit-concurrency",
        type=int,
        default=None,
        metavar="N",
        help="at most N connections or requests at once per server process; 503 beyond"
        " (default 1000; 0: no limit)",
    )
    parser.add_argument(
        "--sigstore-trust-config",
        default=None,
        metavar="FILE",
        help="verify PEP 740 attestations against this Sigstore instance (a sigstore"
        " ClientTrustConfig JSON file; default: the public instance's root, offline)",
    )
    parser.add_argument(
        "--upstream",
        default=None,
        metavar="URL",
        help="pull-through proxy: show the projects of this PEP 691 index (e.g."
        " https://pypi.org/simple/) for every name that is not local (default: none)",
    )
    parser.add_argument(
        "--min-release-age",
        default=None,
        metavar="DURATION",
        help="cooldown: neither list nor serve upstream files younger than this by their"
        " upload time, e.g. 3d, 36h (0: off; kept in the database, one value for every"
        " instance: change it with `trustyard policy min-release-age`)",
    )
    parser.add_argument(
        "--private",
        action="store_true",
        default=None,
        help="a private index: every read needs an API token (HTTP Basic, the token as the"
        " password) or a signed-in browser; anonymous requests get 401",
    )
    parser.add_argument(
        "--no-access-log", action="store_true", help="do not log one line per request"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    from trustyard.index.server import serve  # noqa: PLC0415 - heavy imports only when serving

    settings = settings_from(
        args,
        host=args.host,
        port=args.port,
        base_url=args.base_url,
        accel_redirect=args.accel_redirect,
        forwarded_allow_ips=args.forwarded_allow_ips,
        max_upload_size=args.max_upload_size,
        max_project_size=args.max_project_size,
        new_files_window_days=args.new_files_window_days,
        access_log=False if args.no_access_log else None,
        workers=args.workers,
        limit_concurrency=args.limit_concurrency,
        s3_serve=args.s3_serve,
        tls=args.tls,
        hostnames=",".join(args.hostname) or None,
        certfile=args.certfile,
        keyfile=args.keyfile,
        oidc_audience=args.audience,
        sigstore_trust_config=args.sigstore_trust_config,
        upstream=args.upstream,
        min_release_age=args.min_release_age,
        private=args.private,
    )
    serve(settings)
    return 0
