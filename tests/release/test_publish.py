"""The publish stage without a real index: inputs, the upload form on the wire, retries, reports.

Whole flows against real ``trustyard serve`` processes are in ``tests/e2e/test_publish.py``;
the only server here is a tiny local one that answers 503/429 on purpose (transient failures
cannot be provoked from a healthy index).
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import json
import threading
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.dists.builders import build_sdist, build_wheel
from trustyard.cli.main import main
from trustyard.release.oidc_exchange import SHOWN_CLAIMS, refusal_report
from trustyard.release.publish import (
    FileResult,
    derive_check_url,
    publish_files,
)
from trustyard.release.publish_inputs import (
    MAX_ATTESTATION_SIZE,
    PublishInputError,
    collect_distributions,
)
from trustyard.release.upload_client import Answer, RetryPolicy, UploadForm

ATTESTATION = {"version": 1, "envelope": {"statement": "c3RtdA==", "signature": "c2ln"}}
NO_CI = {"PATH": "/usr/bin"}


# --- inputs ---------------------------------------------------------------------------------


def test_directory_gives_wheels_before_sdists_with_their_attestations(tmp_path: Path) -> None:
    sdist = build_sdist(tmp_path, "order-pkg", "1.0")
    wheel = build_wheel(tmp_path, "order-pkg", "1.0")
    other = build_wheel(tmp_path, "order-pkg", "1.0", tag="py2-none-any")
    (tmp_path / f"{sdist.name}.publish.attestation").write_text(json.dumps(ATTESTATION))
    (tmp_path / f"{sdist.name}.slsa.attestation").write_text(json.dumps({"kind": "slsa"}))
    (tmp_path / "SHA256SUMS").write_text("ignored\n")
    (tmp_path / "multiple.intoto.jsonl").write_text("{}\n")

    found = collect_distributions([tmp_path])

    assert [d.filename for d in found] == [other.name, wheel.name, sdist.name]
    assert found[2].attestations == (ATTESTATION, {"kind": "slsa"})  # ordered by kind
    assert [p.name for p in found[2].attestation_files] == [
        f"{sdist.name}.publish.attestation",
        f"{sdist.name}.slsa.attestation",
    ]
    assert found[0].attestations == ()


def test_every_input_problem_is_reported_together(tmp_path: Path) -> None:
    good = build_wheel(tmp_path / "ok", "fine-pkg", "1.0")
    unknown = tmp_path / "notes.txt"
    unknown.write_text("hello")
    zipped = tmp_path / "fine_pkg-1.0.zip"
    zipped.write_bytes(b"PK")
    unparseable = tmp_path / "fine_pkg.tar.gz"
    unparseable.write_bytes(b"")
    # A wheel whose name is not normalised: PyPI wants fine_pkg, not Fine.Pkg.
    not_normal = tmp_path / "Fine.Pkg-1.0-py3-none-any.whl"
    not_normal.write_bytes(good.read_bytes())
    orphan = tmp_path / "gone_pkg-1.0.tar.gz.publish.attestation"
    orphan.write_text("{}")
    misnamed = tmp_path / "fine_pkg-1.0.attestation"
    misnamed.write_text("{}")
    bad_json = tmp_path / "ok" / f"{good.name}.publish.attestation"
    bad_json.write_text("{not json")

    with pytest.raises(PublishInputError) as caught:
        collect_distributions(
            [
                tmp_path / "missing.whl",
                unknown,
                zipped,
                unparseable,
                not_normal,
                orphan,
                misnamed,
                tmp_path / "ok",
            ]
        )
    problems = caught.value.problems
    text = "\n".join(problems)
    assert f"{tmp_path / 'missing.whl'}: no such file or directory" in problems
    assert f"{unknown}: not a distribution (.whl, .tar.gz) or an attestation" in text
    assert f"{zipped}: .zip sdists cannot be uploaded; an sdist is a .tar.gz (PEP 625)" in text
    assert f"{unparseable}: Invalid source distribution filename: fine_pkg.tar.gz" in text
    assert (
        f"{not_normal}: the filename is not normalised: expected 'fine_pkg-1.0-py3-none-any.whl'"
    ) in text
    assert f"{orphan}: attestation without its distribution 'gone_pkg-1.0.tar.gz'" in text
    assert f"{misnamed}: an attestation file is named <distribution>.<kind>.attestation" in text
    assert f"{good}: {good.name}.publish.attestation: the attestation is not JSON" in text
    assert len(problems) == 8
    assert str(caught.value).startswith("8 problems with the files to publish:\n")


def test_non_normalised_sdist_version_and_name(tmp_path: Path) -> None:
    source = build_sdist(tmp_path / "src", "norm-pkg", "1.0")
    for name, expected in [
        ("norm_pkg-1.0.0.0.tar.gz", None),  # a normal version, the filename itself is fine
        ("norm_pkg-01.0.tar.gz", "norm_pkg-1.0.tar.gz"),
        ("Norm-Pkg-1.0.tar.gz", "norm_pkg-1.0.tar.gz"),
    ]:
        path = tmp_path / name
        path.write_bytes(source.read_bytes())
        with pytest.raises(PublishInputError) as caught:
            collect_distributions([path])
        if expected is None:  # the metadata inside says 1.0, the name 1.0.0.0: PEP 625
            assert "should be 'norm_pkg-1.0.tar.gz'" in str(caught.value)
        else:
            assert f"not normalised: expected {expected!r}" in str(caught.value)


def test_attestation_must_be_a_small_json_object(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "att-pkg", "1.0")
    attestation = tmp_path / f"{wheel.name}.publish.attestation"
    attestation.write_text("[1, 2]")
    with pytest.raises(PublishInputError, match="the attestation is not a JSON object"):
        collect_distributions([wheel, attestation])
    attestation.write_bytes(b" " * (MAX_ATTESTATION_SIZE + 1))
    with pytest.raises(PublishInputError, match=r"more than 1048576"):
        collect_distributions([wheel, attestation])


def test_metadata_must_agree_with_the_filename(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "a", "meta-pkg", "1.0")
    renamed = tmp_path / "other_pkg-1.0-py3-none-any.whl"
    renamed.write_bytes(wheel.read_bytes())
    with pytest.raises(PublishInputError) as caught:
        collect_distributions([renamed])
    assert str(caught.value).startswith(f"{renamed}: Invalid distribution file.")


def test_an_empty_directory_and_an_empty_list(tmp_path: Path) -> None:
    with pytest.raises(PublishInputError, match=r"the directory holds no \.whl or \.tar\.gz files"):
        collect_distributions([tmp_path])
    with pytest.raises(PublishInputError, match="no files to publish were given"):
        collect_distributions([])


# --- the form on the wire -------------------------------------------------------------------


def _parts(body: bytes, boundary: str) -> list[tuple[str, str | None, bytes]]:
    """(name, filename, payload) of every part, in order, parsed by the stdlib's MIME parser."""
    head = f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    assert message.is_multipart()
    parts: list[tuple[str, str | None, bytes]] = []
    for part in message.iter_parts():
        disposition = part.get("Content-Disposition")
        assert disposition is not None
        parts.append(
            (
                str(part.get_param("name", header="content-disposition")),
                part.get_filename(),
                bytes(part.get_payload(decode=True)),
            )
        )
    return parts


def test_form_fields_are_uvs_in_uvs_order(tmp_path: Path) -> None:
    extra = (
        "Author: Ada\n"
        "Keywords: one,two\n"
        "Requires-Dist: packaging>=24\n"
        "Requires-Dist: rich\n"
        "Classifier: Programming Language :: Python :: 3\n"
        "Project-URL: Source, https://example.org/src\n"
        "Description-Content-Type: text/markdown\n"
    )
    wheel = build_wheel(tmp_path, "form-pkg", "2.0", tag="py2.py3-none-any", metadata_extra=extra)
    (tmp_path / f"{wheel.name}.publish.attestation").write_text(json.dumps(ATTESTATION))
    (distribution,) = collect_distributions([tmp_path])
    form = UploadForm(distribution, with_attestations=True, boundary="b0undary")
    body = form.encode()
    assert len(body) == form.length
    assert form.content_type == "multipart/form-data; boundary=b0undary"

    parts = _parts(body, "b0undary")
    names = [name for name, _, _ in parts]
    assert names == [
        ":action",
        "sha256_digest",
        "blake2_256_digest",
        "protocol_version",
        "metadata_version",
        "name",
        "version",
        "filetype",
        "pyversion",
        "author",
        "description_content_type",
        "keywords",
        "summary",
        "requires_python",
        "classifiers",
        "project_urls",
        "requires_dist",
        "requires_dist",
        "content",
        "attestations",
    ]
    values = {name: payload.decode() for name, filename, payload in parts if filename is None}
    assert values[":action"] == "file_upload"
    assert values["sha256_digest"] == distribution.sha256
    assert values["blake2_256_digest"] == distribution.blake2_256
    assert values["protocol_version"] == "1"
    assert values["filetype"] == "bdist_wheel"
    assert values["pyversion"] == "py2.py3"
    assert values["name"] == "form-pkg"
    assert values["keywords"] == "one, two"
    assert values["requires_python"] == ""  # always sent, even empty
    assert values["project_urls"] == "Source, https://example.org/src"
    assert json.loads(values["attestations"]) == [ATTESTATION]
    (content,) = [(f, p) for n, f, p in parts if n == "content"]
    assert content == (wheel.name, wheel.read_bytes())


def test_sdist_form_and_no_attestations_without_trusted_publishing(tmp_path: Path) -> None:
    sdist = build_sdist(tmp_path, "form-sdist", "1.0")
    (tmp_path / f"{sdist.name}.publish.attestation").write_text(json.dumps(ATTESTATION))
    (distribution,) = collect_distributions([tmp_path])
    parts = _parts(UploadForm(distribution, with_attestations=False, boundary="x").encode(), "x")
    values = {name: payload for name, _, payload in parts}
    assert values["filetype"] == b"sdist"
    assert values["pyversion"] == b"source"
    assert "attestations" not in values
    assert [name for name, _, _ in parts][-1] == "content"


def test_check_url_is_derived_beside_the_upload_url() -> None:
    assert derive_check_url("https://h:8443/legacy/") == "https://h:8443/simple/"
    assert derive_check_url("http://h/pypi/legacy") == "http://h/pypi/simple/"
    assert derive_check_url("http://h/upload/") == "http://h/simple/"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://host/legacy/", "is not an http(s) URL with a host"),
        ("https:///legacy/", "is not an http(s) URL with a host"),
        ("legacy", "is not an http(s) URL with a host"),
        ("http://host:99999/legacy/", "is not a valid URL"),
        ("http://user:pw@host/legacy/", "must not carry credentials"),
        ("http://host/legacy/?x=1", "must not have a query, fragment or spaces"),
        ("http://host/leg acy/", "must not have a query, fragment or spaces"),
    ],
)
def test_malformed_urls_are_refused_before_anything_else(
    tmp_path: Path, url: str, message: str
) -> None:
    wheel = build_wheel(tmp_path, "url-pkg", "1.0")
    with pytest.raises(Exception, match="the upload URL") as caught:
        publish_files([wheel], upload_url=url, token="t", environ=NO_CI)
    assert message in str(caught.value)


def test_retry_delays_double_and_honour_retry_after() -> None:
    policy = RetryPolicy(attempts=5, first_delay=0.5, max_delay=3)
    assert [policy.delay(n, None) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 3]
    limited = Answer(429, "Too Many Requests", {"retry-after": "2"}, b"")
    assert policy.delay(1, limited) == 2
    assert policy.delay(1, Answer(429, "", {"retry-after": "600"}, b"")) == 3


def test_answer_explanation_is_one_line_with_the_index_message() -> None:
    html = b"<html>\n<body>400 Bad Request\n\nFile already exists.</body></html>"
    assert Answer(400, "File already exists.", {}, b"File already exists.").explanation() == (
        "400 File already exists."
    )
    assert "\n" not in Answer(400, "Bad", {}, html).explanation()
    repeated = b"400 Bad Request\n\nThe server could not comply.\n\nFile already exists ('x')."
    assert Answer(400, "File already exists ('x').", {}, repeated).explanation() == (
        "400 File already exists ('x')."
    )
    # A standard reason phrase says nothing: the body's words are added.
    assert Answer(403, "Forbidden", {}, b"403 Forbidden\n\nNot a maintainer.").explanation() == (
        "403 Forbidden: 403 Forbidden Not a maintainer."
    )
    problem = json.dumps(
        {"message": "Token request failed", "errors": [{"code": "x", "description": "y"}]}
    )
    assert Answer(422, "Unprocessable", {}, problem.encode()).explanation() == (
        "422 Unprocessable: x: y"
    )


def _jwt(claims: Mapping[str, object]) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    return f"{b64(b'{}')}.{b64(json.dumps(claims).encode())}.{b64(b'sig')}"


def test_refusal_report_shows_the_codes_and_every_claim_or_missing() -> None:
    claims = {
        "sub": "repo:octo/widgets:ref:refs/tags/v1",
        "repository": "octo/widgets",
        "workflow_ref": "octo/widgets/.github/workflows/other.yml@refs/tags/v1",
        "ref": "refs/tags/v1",
    }
    document = {
        "message": "Token request failed",
        "errors": [{"code": "invalid-publisher", "description": "valid token, but no publisher"}],
    }
    report = refusal_report(
        "https://h/_/oidc/mint-token",
        Answer(422, "Unprocessable Entity", {}, json.dumps(document).encode()),
        document,
        _jwt(claims),
    )
    lines = report.splitlines()
    assert lines[0] == "the index refused to mint an upload token (422 Unprocessable Entity):"
    assert "  * invalid-publisher: valid token, but no publisher" in lines
    for name in SHOWN_CLAIMS:
        expected = claims.get(name, "MISSING")
        assert f"  * {name}: {expected}" in lines
    assert "repository_owner_id: MISSING" in report


# --- transient failures against a tiny local server -----------------------------------------


@dataclass
class FlakyIndex:
    """Answers the simple API with 404 and the first ``failures`` uploads with ``status``."""

    url: str
    failures: list[tuple[int, dict[str, str]]]
    posts: list[bytes] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)


@pytest.fixture
def flaky() -> Iterator[FlakyIndex]:
    state = FlakyIndex(url="", failures=[])

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            state.posts.append(self.rfile.read(length))
            state.auth.append(self.headers.get("Authorization", ""))
            status, headers = state.failures.pop(0) if state.failures else (200, {})
            self.send_response(status, "Service Unavailable" if status == 503 else None)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/legacy/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_503_twice_then_success_is_retried_with_backoff(flaky: FlakyIndex, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "flaky-pkg", "1.0")
    flaky.failures = [(503, {}), (503, {})]
    waits: list[float] = []
    notes: list[str] = []

    class Listen:
        def note(self, message: str) -> None:
            notes.append(message)

        def start(self, filename: str, size: int) -> None:
            notes.append(f"start {filename} {size}")

        def advance(self, filename: str, sent: int) -> None:
            pass

        def finish(self, result: FileResult) -> None:
            notes.append(f"finish {result.outcome}")

    report = publish_files(
        [wheel],
        upload_url=flaky.url,
        token="secret-token",
        environ=NO_CI,
        retry=RetryPolicy(attempts=4, first_delay=0.25),
        sleep=waits.append,
        progress=Listen(),
    )
    assert report.ok
    assert [(f.filename, f.outcome) for f in report.files] == [(wheel.name, "uploaded")]
    assert len(flaky.posts) == 3
    assert len(set(flaky.posts)) == 1  # the same body every time
    assert waits == [0.25, 0.5]
    assert notes.count(f"start {wheel.name} {wheel.stat().st_size}") == 3
    assert any("503 Service Unavailable; retrying in 0.2 s" in n for n in notes)
    assert flaky.auth[0] == "Basic " + base64.b64encode(b"__token__:secret-token").decode()


def test_retries_are_bounded_and_a_4xx_is_final(flaky: FlakyIndex, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "bounded-pkg", "1.0")
    flaky.failures = [(503, {})] * 5
    report = publish_files(
        [wheel],
        upload_url=flaky.url,
        token="t",
        environ=NO_CI,
        retry=RetryPolicy(attempts=3, first_delay=0),
        sleep=lambda _s: None,
    )
    assert not report.ok
    assert len(flaky.posts) == 3
    assert report.files[0].reason == "the index refused the upload: 503 Service Unavailable"

    flaky.posts.clear()
    flaky.failures = [(403, {})]
    report = publish_files(
        [wheel], upload_url=flaky.url, token="t", environ=NO_CI, sleep=lambda _s: None
    )
    assert len(flaky.posts) == 1
    assert report.files[0].reason == "the index refused the upload: 403 Forbidden"


def test_429_waits_as_long_as_retry_after_says(flaky: FlakyIndex, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "limited-pkg", "1.0")
    flaky.failures = [(429, {"Retry-After": "3"})]
    waits: list[float] = []
    report = publish_files(
        [wheel],
        upload_url=flaky.url,
        token="t",
        environ=NO_CI,
        retry=RetryPolicy(first_delay=0.1),
        sleep=waits.append,
    )
    assert report.ok
    assert waits == [3]


def test_cli_retries_and_exits_zero(
    flaky: FlakyIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = build_wheel(tmp_path, "cli-flaky", "1.0")
    flaky.failures = [(503, {}), (503, {})]
    code = main(["publish", str(wheel), "--index", flaky.url, "--token", "t"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert len(flaky.posts) == 3
    assert err.count("503 Service Unavailable; retrying in") == 2
    assert "1 uploaded, 0 skipped, 0 failed" in err


# --- the CLI's refusals of bad input ----------------------------------------------------------


def _cli_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(["publish", *args])
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.startswith("trustyard: error: "), err
    return err


def test_cli_bad_inputs_are_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRUSTYARD_PUBLISH_TOKEN", raising=False)
    index = "http://127.0.0.1:9/legacy/"  # never reached: every case fails before the network
    wheel = build_wheel(tmp_path, "cli-bad", "1.0")
    err = _cli_error([str(tmp_path / "nope.whl"), "--index", index, "--token", "t"], capsys)
    assert f"{tmp_path / 'nope.whl'}: no such file or directory" in err
    notes = tmp_path / "README.md"
    notes.write_text("x")
    err = _cli_error([str(notes), "--index", index, "--token", "t"], capsys)
    assert "not a distribution (.whl, .tar.gz) or an attestation" in err
    orphan = tmp_path / "cli_bad-1.0.tar.gz.publish.attestation"
    orphan.write_text("{}")
    err = _cli_error([str(wheel), str(orphan), "--index", index, "--token", "t"], capsys)
    assert "attestation without its distribution 'cli_bad-1.0.tar.gz'" in err
    err = _cli_error([str(wheel), "--index", "not a url", "--token", "t"], capsys)
    assert "the upload URL 'not a url' is not an http(s) URL with a host" in err
    err = _cli_error(
        [str(wheel), "--index", index, "--check-url", "ftp://x/simple/", "--token", "t"], capsys
    )
    assert "the check URL 'ftp://x/simple/' is not an http(s) URL" in err
    err = _cli_error(
        [str(wheel), "--index", index, "--token", "t", "--trusted-publishing", "always"], capsys
    )
    assert "an API token cannot be used with --trusted-publishing always" in err
    err = _cli_error([str(wheel), "--index", index, "--trusted-publishing", "never"], capsys)
    assert "no credentials: pass --token or set TRUSTYARD_PUBLISH_TOKEN" in err
    err = _cli_error([str(wheel), "--index", index, "--token", "t", "--cacert", str(notes)], capsys)
    assert f"--cacert {notes}: cannot load CA certificates" in err


def test_license_file_is_only_sent_from_metadata_2_4(tmp_path: Path) -> None:
    """As twine does: older setuptools wrote License-File into 2.1 metadata; PyPI refuses it."""
    new = build_wheel(tmp_path / "new", "lic-new", "1.0", metadata_extra="License-File: LICENSE\n")
    (distribution,) = collect_distributions([new])
    assert ("license_file", "LICENSE") in distribution.metadata_fields

    old = build_wheel(tmp_path / "old", "lic-old", "1.0", metadata_extra="License-File: LICENSE\n")
    with zipfile.ZipFile(old) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    metadata = "lic_old-1.0.dist-info/METADATA"
    members[metadata] = members[metadata].replace(
        b"Metadata-Version: 2.4", b"Metadata-Version: 2.1"
    )
    with zipfile.ZipFile(old, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    (distribution,) = collect_distributions([old])
    assert ("metadata_version", "2.1") in distribution.metadata_fields
    assert not [f for f in distribution.metadata_fields if f[0] == "license_file"]
