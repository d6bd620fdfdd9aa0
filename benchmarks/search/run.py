"""Search benchmark (issue 14, finding 7): ``/search/`` latency over a large synthetic catalogue.

    uv run python benchmarks/search/run.py [--projects 50000] [--queries 400] [--src DIR]
        [--postgresql]

Builds an embedded (SQLite) index (``--postgresql``: a PostgreSQL catalogue on the test
suite's private server, searched through ``pg_trgm``) of ``--projects`` projects, each with two
releases whose
summaries are made of words from a fixed synthetic vocabulary (the newer one is searched),
by ``trustyard migrate`` and then plain SQL inserts in one transaction (as
``benchmarks/scale/catalogue.py`` writes its catalogue without uploads; here no files are
needed, so rows go straight in and the database's own triggers index them). Then starts a real
``trustyard serve`` with the search rate limit off and asks ``/search/`` ``--queries`` times,
one request at a time over one keep-alive connection, after a warm-up: exact names, name
fragments, summary words, two-word queries, one- and two-letter words, and words that match
nothing. Reports p50/p99/max of the whole answer per query kind and overall, the server's CPU
time per request, and the machine's load average before and after.

``--src DIR`` runs the server (and ``migrate``) from another source tree's ``src`` (for
instance an export of the code before the change: ``git archive main | tar -x -C /tmp/main``),
to compare. Everything lives in a temporary directory removed at the end.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import PYTHON, free_port  # noqa: E402

WHEN = "2026-01-01 00:00:00.000000"
LATER = "2026-02-01 00:00:00.000000"
SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ner",
    "po",
    "qua",
    "ri",
    "sen",
    "tu",
    "vel",
    "xo",
    "zan",
    "dra",
    "fi",
]


def vocabulary(rng: random.Random, size: int) -> list[str]:
    """``size`` distinct pseudo-words of two to four syllables."""
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


INSERT_PROJECT = (
    "INSERT INTO projects (id, name, normalized_name, created, last_serial) VALUES (?, ?, ?, ?, ?)"
)
INSERT_RELEASE = (
    "INSERT INTO releases (id, project_id, version, canonical_version, created,"
    " is_prerelease, yanked, yanked_reason, core_metadata)"
    " VALUES (?, ?, ?, ?, ?, FALSE, FALSE, '', ?)"
)

MAKE_PRIVATE = "UPDATE projects SET visibility = 'private' WHERE id = ?"
# The reader: a user whose password no one knows, who reads with a read-only token.
INSERT_READER = (
    "INSERT INTO users (id, username, password_hash, created, is_admin)"
    " VALUES (1, 'bench', 'unusable', ?, FALSE)"
)
INSERT_ROLE = "INSERT INTO roles (user_id, project_id, role) VALUES (1, ?, 'owner')"


def _connect(database: str | None, data: Path) -> tuple[Any, str]:
    """A DB-API connection to the catalogue in a transaction, and its parameter marker."""
    if database is None:
        conn = sqlite3.connect(data / "trustyard.sqlite3", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("BEGIN IMMEDIATE")
        return conn, "?"
    import psycopg  # noqa: PLC0415 - only for --postgresql
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    url = make_url(database).set(drivername="postgresql")
    return psycopg.connect(url.render_as_string(hide_password=False)), "%s"


def build(
    data: Path,
    projects: int,
    env: dict[str, str],
    seed: int,
    database: str | None = None,
    private: int = 0,
    owned: int = 0,
) -> tuple[list[str], list[str]]:
    """The catalogue: ``projects`` projects x 2 releases; (names, vocabulary). ``private`` of
    them (chosen by their own random generator, so the names and summaries stay those of
    ``seed``) are private, and the user ``bench`` owns ``owned`` of those."""
    migrate = [PYTHON, "-m", "trustyard", "migrate", "--data", str(data)]
    if database:
        migrate += ["--database", database]
    subprocess.run(migrate, check=True, env=env, capture_output=True, timeout=300)
    rng = random.Random(seed)
    words = vocabulary(rng, 3000)
    names = [f"{rng.choice(words)}-{rng.choice(words)}-{n}" for n in range(1, projects + 1)]
    conn, mark = _connect(database, data)
    cursor = conn.cursor()
    cursor.executemany(
        INSERT_PROJECT.replace("?", mark),
        [(n, name, name, WHEN, n) for n, name in enumerate(names, start=1)],
    )

    def releases() -> object:
        for n in range(1, projects + 1):
            for v, when in enumerate((WHEN, LATER)):
                summary = " ".join(rng.choice(words) for _ in range(rng.randint(4, 9))).capitalize()
                metadata = json.dumps({"name": names[n - 1], "summary": summary + "."})
                yield (2 * n - 1 + v, n, f"1.{v}", f"1.{v}", when, metadata)

    cursor.executemany(
        INSERT_RELEASE.replace("?", mark),
        list(releases()),  # type: ignore[call-overload]
    )
    if private:
        hidden = random.Random(seed + 2).sample(range(1, projects + 1), private)
        cursor.executemany(
            MAKE_PRIVATE.replace("?", mark),
            [(n,) for n in hidden],
        )
        cursor.execute(
            INSERT_READER.replace("?", mark),
            (WHEN,),
        )
        cursor.executemany(
            INSERT_ROLE.replace("?", mark),
            [(n,) for n in hidden[:owned]],
        )
    if database:
        # The state autovacuum reaches about a minute later: planner statistics, the 100,000
        # row versions the release triggers' updates left behind removed, the trigram
        # indexes' pending lists merged, the visibility map set. Without it autovacuum's first
        # pass fell inside the measurements (searches took 5-10 times as long until it ended:
        # the inconsistent statement column of session 5).
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    else:
        conn.execute("COMMIT")
    conn.close()
    return names, words


def queries(
    rng: random.Random, names: list[str], words: list[str], count: int
) -> list[tuple[str, str]]:
    """(kind, query) pairs, an equal share of each kind, shuffled."""
    kinds = {
        "exact name": lambda: rng.choice(names),
        "name fragment": lambda: rng.choice(names)[rng.randint(0, 3) : rng.randint(6, 9)],
        "summary word": lambda: rng.choice(words),
        "two words": lambda: f"{rng.choice(words)} {rng.choice(words)[:4]}",
        "short word": lambda: rng.choice(SYLLABLES)[: rng.randint(1, 2)],
        "no match": lambda: f"zz{rng.choice(words)}qq",
    }
    chosen = [(kind, make()) for _ in range(count // len(kinds)) for kind, make in kinds.items()]
    rng.shuffle(chosen)
    return chosen


def bench_token(data: Path, database: str | None) -> str:
    """A read-only API token of the user ``bench`` (this checkout's code writes it)."""
    from trustyard.index.db.engine import Database  # noqa: PLC0415 - this checkout only
    from trustyard.index.services.accounts import create_token  # noqa: PLC0415

    db = Database(database or f"sqlite:///{data / 'trustyard.sqlite3'}")
    try:
        with db.write() as session:
            return create_token(session, "bench", read_only=True)
    finally:
        db.dispose()


def in_process(
    data: Path, asked: list[tuple[str, str]], database: str | None = None, token: str = ""
) -> dict[str, list[float]]:
    """Milliseconds of the search statement alone, per query kind, in this process (the service
    function on the same catalogue). On SQLite its CPU time: a figure that a busy machine
    inflates far less than wall-clock latency. On PostgreSQL the work is in the database
    server, so its wall-clock time, one statement at a time on an idle connection."""
    from trustyard.index.db.engine import Database  # noqa: PLC0415 - this checkout only
    from trustyard.index.services import read_access  # noqa: PLC0415
    from trustyard.index.services.search import search_projects  # noqa: PLC0415

    db = Database(database or f"sqlite:///{data / 'trustyard.sqlite3'}")
    clock = time.perf_counter if database else time.process_time
    spent: dict[str, list[float]] = {}
    try:
        with db.read() as session:
            reader = read_access.token_reader(session, token) if token else read_access.ANONYMOUS
            for kind, query in asked:
                start = clock()
                hidden = read_access.hidden_from(session, reader)
                search_projects(session, query, hidden=hidden)
                spent.setdefault(kind, []).append((clock() - start) * 1000)
    finally:
        db.dispose()
    return spent


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_cpu_seconds(database: str | None) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving the catalogue's database (the
    server's connections; the work of a search is there, not in the server process). Read
    from ``/proc``: the cluster runs on this machine. Empty for SQLite."""
    if database is None:
        return {}
    import psycopg  # noqa: PLC0415 - only for --postgresql
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    url = make_url(database).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        pids = [
            row[0]
            for row in conn.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
    spent = {}
    for pid in pids:
        try:
            spent[pid] = cpu_seconds(pid)
        except FileNotFoundError:  # ended meanwhile
            continue
    return spent


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def has_search_limit(src: Path | None) -> bool:
    """Whether the code served has the search rate limit (this checkout's does; code from
    before finding 7 was fixed does not know the setting, and refuses unknown ones)."""
    if src is None:
        return True
    return "search_rate_per_address" in (src / "trustyard" / "settings.py").read_text()


def serve(
    data: Path, env: dict[str, str], limited: bool, database: str | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """``trustyard serve`` on ``data``; ``limited``: code with a search rate limit, turned off."""
    port = free_port()
    settings = 'search-rate-per-address = "off"\n' if limited else ""
    (data / "trustyard.toml").write_text(settings + "access-log = false\n")
    log = (data.parent / "server.log").open("wb")
    command = [PYTHON, "-m", "trustyard", "serve", "--data", str(data), "--port", str(port)]
    process = subprocess.Popen(
        command + (["--database", database] if database else []),
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/simple/")
            conn.getresponse().read()
            conn.close()
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError((data.parent / "server.log").read_text()) from None
            time.sleep(0.2)
        else:
            return process, port


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--projects", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--src", type=Path, help="run trustyard from this source tree's src/")
    parser.add_argument(
        "--peer",
        type=Path,
        help="also serve the same catalogue from this source tree's src/, asked in turn",
    )
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--postgresql", action="store_true", help="a PostgreSQL catalogue")
    parser.add_argument("--private", type=int, default=0, help="how many projects are private")
    parser.add_argument(
        "--owned", type=int, default=100, help="how many private projects the reader owns"
    )
    parser.add_argument(
        "--reader",
        choices=("anonymous", "token"),
        default="anonymous",
        help="search anonymously or with a read-only token of the user bench",
    )
    args = parser.parse_args()
    postgres = None
    if args.postgresql:
        from tests.services import start_postgres  # noqa: PLC0415 - the suite's private server

        postgres = start_postgres()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTYARD_")}
    if args.src:
        env["PYTHONPATH"] = str(args.src.resolve())
    load_before = Path("/proc/loadavg").read_text().strip()
    database = postgres.new_database() if postgres else None
    try:
        return measure(args, env, database, load_before)
    finally:
        if postgres:
            postgres.stop()


def _ask(
    conn: http.client.HTTPConnection, query: str, headers: dict[str, str]
) -> tuple[bytes, float, bool]:
    """The answer's body, its latency in ms, and whether the connection had to be opened again
    first: a server ends a keep-alive connection left idle past its timeout (uvicorn: 5 s),
    which happens while the other server of a ``--peer`` run takes that long. The latency is
    that of the request that was answered."""
    reopened = False
    while True:
        start = time.perf_counter()
        try:
            conn.request("GET", "/search/?q=" + quote(query), headers=headers)
            response = conn.getresponse()
            body = response.read()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if reopened:
                raise
            conn.close()
            reopened = True
            continue
        elapsed = (time.perf_counter() - start) * 1000
        break
    if response.status != 200:  # a refused request is never counted as done
        raise RuntimeError(f"{query!r}: {response.status} {body[:200]!r}")
    return body, elapsed, reopened


def measure(
    args: argparse.Namespace, env: dict[str, str], database: str | None, load_before: str
) -> int:
    """Build, serve (one or two code trees), ask in turn; print a table per server."""
    served = [("this checkout" if args.src is None else f"--src {args.src}", env, args.src)]
    if args.peer:
        peer_env = {**env, "PYTHONPATH": str(args.peer.resolve())}
        served.append((f"--peer {args.peer}", peer_env, args.peer))
    with tempfile.TemporaryDirectory(prefix="trustyard-search-bench-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        started = time.monotonic()
        names, words = build(
            data, args.projects, env, args.seed, database, args.private, args.owned
        )
        built = time.monotonic() - started
        headers: dict[str, str] = {}
        token = ""
        if args.reader == "token":
            token = bench_token(data, database)
            basic = base64.b64encode(f"__token__:{token}".encode()).decode()
            headers["Authorization"] = f"Basic {basic}"
        servers = []
        try:
            for label, server_env, src in served:
                process, port = serve(data, server_env, has_search_limit(src), database)
                servers.append((label, process, port))
            rng = random.Random(args.seed + 1)
            conns = [http.client.HTTPConnection("127.0.0.1", p, timeout=120) for *_, p in servers]
            timings: list[dict[str, list[float]]] = [{} for _ in servers]
            hits: list[dict[str, list[int]]] = [{} for _ in servers]
            for _kind, query in queries(rng, names, words, 24):  # warm-up, not counted
                for conn in conns:
                    _ask(conn, query, headers)
            cpu_start = [cpu_seconds(process.pid) for _, process, _ in servers]
            database_start = database_cpu_seconds(database)
            differ = reopened = 0
            for turn, (kind, query) in enumerate(queries(rng, names, words, args.queries)):
                order = list(range(len(servers)))
                if turn % 2:
                    order.reverse()  # each server goes first every other query
                found = {}
                for which in order:
                    body, elapsed, again = _ask(conns[which], query, headers)
                    reopened += again
                    timings[which].setdefault(kind, []).append(elapsed)
                    found[which] = body.count(b'<span class="name">')
                    hits[which].setdefault(kind, []).append(found[which])
                differ += len(set(found.values())) > 1
            cpu = [
                cpu_seconds(process.pid) - cpu_start[n] for n, (_, process, _) in enumerate(servers)
            ]
            database_end = database_cpu_seconds(database)
            database_cpu = sum(
                spent - database_start.get(pid, 0.0) for pid, spent in database_end.items()
            )
            for conn in conns:
                conn.close()
        finally:
            for _, process, _ in servers:
                process.terminate()
                process.wait(timeout=30)
        statement_cpu = (
            {}
            if args.src
            else in_process(data, queries(rng, names, words, args.queries), database, token)
        )
    load_after = Path("/proc/loadavg").read_text().strip()
    lines = [
        f"projects: {args.projects} (2 releases each); catalogue built in {built:.1f} s",
        f"private: {args.private} (the reader owns {min(args.owned, args.private)} of them);"
        f" reader: {args.reader}",
        f"catalogue: {'PostgreSQL' if database else 'SQLite'}",
        f"loadavg before: {load_before}",
        f"loadavg after:  {load_after}",
    ]
    if len(servers) > 1:
        lines.append(f"queries whose number of results differed between the servers: {differ}")
        lines.append(f"connections opened again after a server's keep-alive timeout: {reopened}")
    for n, (label, _, _) in enumerate(servers):
        lines += ["", f"server: {label}", ""]
        lines += _table(timings[n], hits[n], statement_cpu if n == 0 else {}, database)
        every = sum(len(values) for values in timings[n].values())
        lines.append("")
        lines.append(f"server CPU: {cpu[n] * 1000 / every:.1f} ms per request")
    if database:
        every = sum(len(values) for t in timings for values in t.values())
        lines.append(
            f"PostgreSQL backends' CPU (all servers): {database_cpu * 1000 / every:.1f} ms"
            " per request"
        )
    print("\n".join(lines))
    return 0


def _table(
    timings: dict[str, list[float]],
    hits: dict[str, list[int]],
    statement_cpu: dict[str, list[float]],
    database: str | None,
) -> list[str]:
    """The markdown table of one server's latencies per query kind."""
    every = [t for kind in timings.values() for t in kind]
    lines = [
        "| queries | kind | hits (mean) | p50 ms | p99 ms | max ms"
        f" | statement {'wall' if database else 'CPU'} p50 | p99 |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, values in timings.items():
        spent = statement_cpu.get(kind)
        lines.append(
            f"| {len(values)} | {kind} | {statistics.mean(hits[kind]):.1f} |"
            f" {percentile(values, 0.5):.1f} | {percentile(values, 0.99):.1f} | {max(values):.1f} |"
            + (
                f" {percentile(spent, 0.5):.1f} | {percentile(spent, 0.99):.1f} |"
                if spent
                else " | |"
            )
        )
    spent_all = [t for kind in statement_cpu.values() for t in kind]
    lines.append(
        f"| {len(every)} | **all** | | **{percentile(every, 0.5):.1f}** |"
        f" **{percentile(every, 0.99):.1f}** | {max(every):.1f} |"
        + (
            f" **{percentile(spent_all, 0.5):.1f}** | **{percentile(spent_all, 0.99):.1f}** |"
            if spent_all
            else " | |"
        )
    )
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
