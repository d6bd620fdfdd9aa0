"""The catalogue's schema: one SQLAlchemy model per table, shared by SQLite and PostgreSQL.

Mirrors the parts of Warehouse's data model that the index protocols need (projects, releases,
files, the journal whose ids are the serials of PEP 691 ``_last-serial``), plus accounts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    """Declarative base of every table."""


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    created: Mapped[datetime] = mapped_column(DateTime)
    # Admins see every user, project and trusted issuer at /admin/ (granted from the CLI only).
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


# User names are unique whatever their case, as on PyPI; sign-in looks them up so (0015).
Index("ix_users_username_lower", func.lower(User.username), unique=True)


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The name as first registered (PyPI's display name) and its PEP 503 normal form.
    name: Mapped[str] = mapped_column(String(200))
    normalized_name: Mapped[str] = mapped_column(String(200), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime)
    last_serial: Mapped[int] = mapped_column(BigInteger, default=0)
    # The project's own limits in bytes, set by an admin (warehouse Project.upload_limit and
    # total_size_limit); None means the index's default, and a limit only ever raises it.
    # Indexed: the largest upload_limit bounds every upload's body.
    upload_limit: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    total_size_limit: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    releases: Mapped[list[Release]] = relationship(back_populates="project")
    # Issue 20: "public" (anyone may read it, unless the whole index is private) or "private"
    # (only those services/read_access.can_read allows). Old rows and exports: public.
    visibility: Mapped[str] = mapped_column(
        String(20), default="public", server_default="public", index=True
    )


class Role(Base):
    __tablename__ = "roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20))  # "owner" | "maintainer"


class RoleInvitation(Base):
    """A role an owner offered a user, granted only when the user accepts (issue 14, finding
    3): warehouse's ``RoleInvitation`` (``packaging/models.py``), one per user and project.
    Accepting, declining or revoking deletes the row, as warehouse does; an invitation past
    ``expires`` stays until it is resolved or replaced, shown as expired, never accepted."""

    __tablename__ = "role_invitations"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    # Indexed: the collaborators page lists a project's invitations.
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(20))  # "owner" | "maintainer"
    invited_by: Mapped[str] = mapped_column(String(100))
    created: Mapped[datetime] = mapped_column(DateTime)
    expires: Mapped[datetime] = mapped_column(DateTime)


class Release(Base):
    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("project_id", "canonical_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    # The normalised version (``str(Version)``, as PyPI stores it), and packaging's canonical
    # form for lookups (trailing zeros dropped: 2.0 and 2.0.0 are one release).
    version: Mapped[str] = mapped_column(String(100))
    canonical_version: Mapped[str] = mapped_column(String(100))
    created: Mapped[datetime] = mapped_column(DateTime)
    is_prerelease: Mapped[bool] = mapped_column(Boolean, default=False)
    requires_python: Mapped[str | None] = mapped_column(Text, nullable=True)
    yanked: Mapped[bool] = mapped_column(Boolean, default=False)
    yanked_reason: Mapped[str] = mapped_column(Text, default="")
    # Core metadata of the first upload, in the JSON API's field names; its requires_dist and
    # requires_python are those of ``metadata_file`` once set.
    core_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The description as sanitised HTML, rendered once at upload (pages never render; warehouse
    # stores Description.html). Deferred: the read APIs that load releases do not need it.
    # None only for rows that came in without it (see services/descriptions).
    description_html: Mapped[str | None] = mapped_column(Text, nullable=True, deferred=True)
    # The first file whose own metadata installers read (a wheel, an sdist of Metadata-Version
    # 2.2+), whose dependencies the release shows; None while only upload forms spoke for it.
    metadata_file: Mapped[str | None] = mapped_column(String(400), nullable=True)

    project: Mapped[Project] = relationship(back_populates="releases")
    files: Mapped[list[File]] = relationship(back_populates="release")


class File(Base):
    __tablename__ = "files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), index=True)
    filename: Mapped[str] = mapped_column(String(400), unique=True)
    filetype: Mapped[str] = mapped_column(String(20))  # "sdist" | "bdist_wheel"
    python_version: Mapped[str] = mapped_column(String(100))
    requires_python: Mapped[str | None] = mapped_column(Text, nullable=True)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    blake2_256: Mapped[str] = mapped_column(String(64), unique=True)
    md5: Mapped[str] = mapped_column(String(32))
    # Storage key: blake2[:2]/blake2[2:4]/blake2[4:]/filename, as on files.pythonhosted.org.
    path: Mapped[str] = mapped_column(String(600), unique=True)
    # PEP 658: digest of the wheel's METADATA stored beside it at path + ".metadata".
    metadata_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    upload_time: Mapped[datetime] = mapped_column(DateTime)
    uploaded_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)

    release: Mapped[Release] = relationship(back_populates="files")


class Provenance(Base):
    """A file's PEP 740 provenance: the attestations its Trusted Publisher uploaded with it.

    Written in the transaction that adds the file's row, so neither exists without the other
    (warehouse ``attestations/models.py``). ``publisher`` repeats the bundle's publisher so that
    listings need not read the attestations.
    """

    __tablename__ = "provenance"

    file_id: Mapped[int] = mapped_column(
        ForeignKey("files.id", ondelete="CASCADE"), primary_key=True
    )
    publisher: Mapped[dict[str, Any]] = mapped_column(JSON)
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON)


class FilenameRegistry(Base):
    """Every filename ever accepted; a deleted file's name stays here, burnt (PyPI's Filename)."""

    __tablename__ = "filename_registry"

    filename: Mapped[str] = mapped_column(String(400), primary_key=True)
    created: Mapped[datetime] = mapped_column(DateTime)
    # What the filename names, normalised (dists.filenames.distribution_key): burnt with it, so
    # beta-2.0.0-py3-none-any.whl cannot follow beta-2.0-py3-none-any.whl. Not unique in the
    # schema (rows from before revision 0014 may repeat one); uploads, which take turns per
    # project, check it. None for a name that does not parse.
    dist_key: Mapped[str | None] = mapped_column(String(600), nullable=True, index=True)


class Token(Base):
    """An API token; only the SHA-256 of its secret is kept.

    A token acts either for a user (``user_id``) or, minted by Trusted Publishing, for a CI
    identity (``publisher_identity``), in which case it lives 15 minutes and may upload to the
    projects of the publishers in ``token_publishers``.
    """

    __tablename__ = "tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True, nullable=True)
    # The CI identity a minted token acts for, as kind:lookup@issuer of the publishers it
    # matched ("github:octo/widgets@https://token.actions.githubusercontent.com"); None for a
    # user's token. Names the uploader and keys the exchange rate limit.
    publisher_identity: Mapped[str | None] = mapped_column(Text, nullable=True)
    # None: user-wide (may also create projects); otherwise scoped to this one project.
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), nullable=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(200), default="")
    created: Mapped[datetime] = mapped_column(DateTime)
    expires: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_used: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    # Issue 20: a read-only token reads (private indexes) and never uploads. Every token minted
    # by Trusted Reading is one. Old rows and old exports: false (migration 0024).
    read_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A token minted by Trusted Reading: the CI identity it reads for, as kind:lookup@issuer
    # of the publishers and reader policies it matched; the projects are in token_readers.
    reader_identity: Mapped[str | None] = mapped_column(Text, nullable=True)


class TokenPublisher(Base):
    """A publisher whose claims a minted token matched at its exchange.

    The token may upload to that publisher's project while this row exists: removing the
    publisher removes the row, and with it the token's access to that project only (issue 14:
    one CI identity may publish several projects, as PyPI's shared publishers do).
    """

    __tablename__ = "token_publishers"

    token_id: Mapped[str] = mapped_column(
        ForeignKey("tokens.id", ondelete="CASCADE"), primary_key=True
    )
    publisher_id: Mapped[int] = mapped_column(
        ForeignKey("publishers.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Publisher(Base):
    """A trusted publisher of a project, or a pending one that creates its project on first use."""

    __tablename__ = "publishers"
    __table_args__ = (
        Index("ix_publishers_match", "kind", "issuer", "lookup"),
        {"sqlite_autoincrement": True},  # a removed publisher's id is never given to another
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Set for an active publisher; None for a pending one (which names its project instead).
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id"), nullable=True, index=True
    )
    pending_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    kind: Mapped[str] = mapped_column(String(20))
    issuer: Mapped[str] = mapped_column(String(500))
    lookup: Mapped[str] = mapped_column(String(500))
    config: Mapped[dict[str, str]] = mapped_column(JSON)
    added_by: Mapped[str] = mapped_column(String(200))
    created: Mapped[datetime] = mapped_column(DateTime)


class OidcKeySet(Base):
    """An issuer's JWKS as last fetched, shared by every instance (warehouse keeps it in Redis)."""

    __tablename__ = "oidc_key_sets"

    issuer: Mapped[str] = mapped_column(String(500), primary_key=True)
    keys: Mapped[dict[str, Any]] = mapped_column(JSON)
    fetched: Mapped[datetime] = mapped_column(DateTime)


class UsedJti(Base):
    """A token id already exchanged; the primary key makes a second use fail atomically."""

    __tablename__ = "used_jtis"

    issuer: Mapped[str] = mapped_column(String(500), primary_key=True)
    jti: Mapped[str] = mapped_column(String(500), primary_key=True)
    expires: Mapped[datetime] = mapped_column(DateTime, index=True)


class JournalEntry(Base):
    """One change to the catalogue or one security-relevant event; its id is the serial."""

    __tablename__ = "journal"
    __table_args__ = (Index("ix_journal_project", "project_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    version: Mapped[str | None] = mapped_column(String(100), nullable=True)
    filename: Mapped[str | None] = mapped_column(String(400), nullable=True)
    action: Mapped[str] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(200), nullable=True)
    submitted: Mapped[datetime] = mapped_column(DateTime)


class WebSession(Base):
    """A signed-in browser; only the SHA-256 of the cookie's secret is kept (as for tokens)."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # Forms of this session carry this value; a forged cross-site form cannot know it.
    csrf_token: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(DateTime)
    expires: Mapped[datetime] = mapped_column(DateTime, index=True)


class RateLimitCounter(Base):
    """Events counted for one rate-limit key in one fixed window (starting at ``window_start``,
    unix time).

    Rows live in the catalogue so that every instance sees the same counts; a row is removed
    once ``expires`` has passed.
    """

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer)
    expires: Mapped[datetime] = mapped_column(DateTime, index=True)


class ProjectSearch(Base):
    """What project search matches and shows: a project's names and its newest release's
    version and summary (newest by upload order), one row per project.

    Derived data, kept in step by the database's own triggers on ``projects`` and
    ``releases`` (see :mod:`trustyard.index.db.search_schema`, which also adds the text index:
    FTS5 on SQLite, pg_trgm on PostgreSQL). Not exported: an import's inserts fill it again.
    No foreign key: the triggers remove a project's row with the project, and a key would make
    SQLite batch migrations of ``projects`` cascade into it.
    """

    __tablename__ = "project_search"

    project_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(200))
    # Indexed: results are walked in name order and each ranked group stops at a page.
    normalized_name: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[str] = mapped_column(String(100))
    summary: Mapped[str] = mapped_column(Text)


class TrustedIssuer(Base):
    """An OIDC issuer an admin allows publishers to name (issue 14, finding 5).

    The index fetches discovery documents and keys only from issuers listed here; private,
    loopback and link-local addresses only for an issuer added with ``allow_private_address``.
    """

    __tablename__ = "trusted_issuers"

    url: Mapped[str] = mapped_column(String(500), primary_key=True)
    allow_private_address: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    added_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime)


class IndexSetting(Base):
    """A value every instance of one index must agree on (its Trusted Publishing audience),
    kept in the catalogue rather than in each instance's settings."""

    __tablename__ = "index_settings"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Namespace(Base):
    """A reserved namespace (PEP 752): the name ``normalized_prefix`` and every name that
    starts with it followed by a hyphen are local-only, and only its owners may create projects
    there. ``prefix`` keeps the spelling the admin gave (PEP 752: "the user facing namespace
    MUST preserve the original pre-normalized text")."""

    __tablename__ = "namespaces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(200))
    normalized_prefix: Mapped[str] = mapped_column(String(200), unique=True)
    added_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime)


class NamespaceOwner(Base):
    """A user who may create projects in a namespace (PEP 752's grant owner; trustyard has no
    organisations, so a grant is held by users)."""

    __tablename__ = "namespace_owners"

    namespace_id: Mapped[int] = mapped_column(
        ForeignKey("namespaces.id", ondelete="CASCADE"), primary_key=True
    )
    # Indexed: a user's namespaces are listed, and deleting a user must find them.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    added_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime)


class ProjectStatusRecord(Base):
    """A project's PEP 792 status when it is not ``active`` (no row: active, the spec's
    default), with the reason shown to installers and who set it; every change is also in the
    journal. Warehouse keeps ``lifecycle_status`` and its note on the project row; a table of
    its own keeps the projects table, and its search triggers, untouched (issue 18)."""

    __tablename__ = "project_statuses"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id"), primary_key=True, autoincrement=False
    )
    status: Mapped[str] = mapped_column(String(20))  # archived | quarantined | deprecated
    reason: Mapped[str] = mapped_column(String(500), default="")
    changed: Mapped[datetime] = mapped_column(DateTime)
    changed_by: Mapped[str] = mapped_column(String(200))


class UpstreamProject(Base):
    """An upstream project page as last fetched (issue 17's pull-through cache), shared by
    every instance: the listing in the proxy's own form (``index/upstream/pages.py``), the
    upstream's ``ETag`` to revalidate it with, and when the upstream last confirmed it.

    ``found`` False records the upstream's 404 (the name exists nowhere), cached like a page.
    """

    __tablename__ = "upstream_projects"

    normalized_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    found: Mapped[bool] = mapped_column(Boolean, default=True)
    document: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    etag: Mapped[str | None] = mapped_column(Text, nullable=True)
    fetched: Mapped[datetime] = mapped_column(DateTime)


class UpstreamFile(Base):
    """An upstream file fetched through the proxy: keyed by the sha256 its listing gave (the
    upstream gives no blake2), stored under ``upstream/`` in the file store, outside the
    filename registry (a local upload of the same filename is another file).

    ``stored`` / ``metadata_stored``: when the bytes (and the PEP 658 metadata) were verified
    and placed; None while only the other half was fetched.
    """

    __tablename__ = "upstream_files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    project: Mapped[str] = mapped_column(String(200), index=True)
    filename: Mapped[str] = mapped_column(String(400))
    url: Mapped[str] = mapped_column(Text)
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    stored: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    metadata_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    metadata_stored: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # PEP 740: the upstream's provenance object, kept once fetched (served during outages).
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class UpstreamCounter(Base):
    """Proxy counters summed over every instance (``trustyard upstream status``'s hit ratio):
    each instance adds what it counted since its last flush."""

    __tablename__ = "upstream_counters"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class PolicyException(Base):
    """An admin's exception to the cooldown (issue 18): ``project`` (normalized) wholly, or
    one ``version`` (canonical), until ``expires`` (None: until revoked). Revoked rows stay,
    with who and when, as the journal's evidence does."""

    __tablename__ = "policy_exceptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[str | None] = mapped_column(String(100), nullable=True)
    reason: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(200))
    created: Mapped[datetime] = mapped_column(DateTime)
    expires: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class PublisherContinuity(Base):
    """The Trusted Publisher identity a project's files must keep naming (issue 18), and a
    local project's continuity setting (``hold_token_uploads``; local and upstream names
    never overlap: a local name is never proxied).

    Upstream projects: the PEP 740 publisher first seen (trust on first use) or one an admin
    pinned; ``baseline_*`` is the file of first sight (the newest attested one when the project
    was first seen): files older than it are served unchecked, it and every later one are
    checked once (``file_verdicts``). ``identity`` is None while no file has verified yet.
    """

    __tablename__ = "publisher_continuity"

    project: Mapped[str] = mapped_column(String(200), primary_key=True)  # normalized name
    identity: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    baseline_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    baseline_time: Mapped[str | None] = mapped_column(String(40), nullable=True)
    set_by: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[datetime] = mapped_column(DateTime)
    # Local projects: hold files uploaded with an API token after Trusted-Publishing-only
    # history for an owner's approval; None: the default (on when the project has a publisher).
    hold_token_uploads: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class FileVerdict(Base):
    """The continuity check's outcome for one file, decided once and kept (issue 18).

    ``verdict``: ``ok``; ``held`` (hidden, 403 on its URLs, waiting for an admin or owner);
    ``released`` (served again) or ``rejected`` (hidden for good) by ``decided_by``. A held
    file keeps its evidence: the identity expected, the one found, the provenance served.
    ``origin`` is ``upstream`` (a proxied file) or ``local`` (an upload through an API token).
    """

    __tablename__ = "file_verdicts"
    __table_args__ = (UniqueConstraint("origin", "sha256", name="uq_file_verdicts_origin_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    origin: Mapped[str] = mapped_column(String(20))
    project: Mapped[str] = mapped_column(String(200), index=True)
    filename: Mapped[str] = mapped_column(String(400))
    sha256: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(20), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    expected: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    found: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime)
    decided_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decided: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class Organisation(Base):
    """An organisation (issue 20): owns projects, has members and teams, as warehouse's
    ``Organization`` (``organizations/models.py``). Its names live beside the usernames, not
    against them: ``/org/<name>/`` and a user's pages are different paths, as on PyPI."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    normalized_name: Mapped[str] = mapped_column(String(100), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # How the organisation presents itself ("Acme Corporation"), as warehouse's
    # ``display_name``; old rows and old exports: empty, the name is shown (schema 0027).
    display_name: Mapped[str] = mapped_column(String(100), default="", server_default="")


class OrganisationMember(Base):
    """A user's role in an organisation: ``owner`` (members, teams, projects: everything, and
    Owner of each of its projects), ``manager`` (teams and adding projects) or ``member``
    (warehouse's ``OrganizationRole``, without its billing manager)."""

    __tablename__ = "organisation_members"

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    # Indexed: a user's organisations are listed, and roles_of looks them up.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(20))
    created: Mapped[datetime] = mapped_column(DateTime)


class OrganisationInvitation(Base):
    """A membership offered to a user, held only once they accept (warehouse's
    ``OrganizationInvitation``); as a role invitation, with its own ``expires``."""

    __tablename__ = "organisation_invitations"

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(20))
    invited_by: Mapped[str] = mapped_column(String(200))
    created: Mapped[datetime] = mapped_column(DateTime)
    expires: Mapped[datetime] = mapped_column(DateTime)


class OrganisationProject(Base):
    """A project owned by an organisation: at most one (the key is the project), as
    warehouse's ``OrganizationProject``."""

    __tablename__ = "organisation_projects"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id"), primary_key=True, autoincrement=False
    )
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    added_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime)


class Team(Base):
    """A team of an organisation's members (warehouse's ``Team``): its name is unique within
    the organisation, whatever its case and separators."""

    __tablename__ = "teams"
    __table_args__ = (
        UniqueConstraint("organisation_id", "normalized_name", name="uq_teams_organisation_name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    name: Mapped[str] = mapped_column(String(100))
    normalized_name: Mapped[str] = mapped_column(String(100))
    created: Mapped[datetime] = mapped_column(DateTime)


class TeamMember(Base):
    """A member of a team (warehouse's ``TeamRole``, whose only role is Member); always a
    member of the team's organisation."""

    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    created: Mapped[datetime] = mapped_column(DateTime)


class TeamProjectRole(Base):
    """A team's role on one of its organisation's projects (warehouse's ``TeamProjectRole``,
    plus ``reader``): every member of the team holds it."""

    __tablename__ = "team_project_roles"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), primary_key=True)
    # Indexed: roles_of looks a project's team roles up.
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(20))  # "owner" | "maintainer" | "reader"


class ReaderPolicy(Base):
    """A CI identity that may mint read tokens for a project (issue 20, Trusted Reading).

    The same kinds and claim checks as a :class:`Publisher` (``oidc/publishers/``), kept apart
    so that an identity allowed to read (a test job, another repository's CI) is never one
    allowed to publish. A project's active publishers may read it without a policy.
    """

    __tablename__ = "reader_policies"
    __table_args__ = (
        Index("ix_reader_policies_match", "kind", "issuer", "lookup"),
        {"sqlite_autoincrement": True},  # a removed policy's id is never given to another
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    issuer: Mapped[str] = mapped_column(String(500))
    lookup: Mapped[str] = mapped_column(String(500))
    config: Mapped[dict[str, str]] = mapped_column(JSON)
    added_by: Mapped[str] = mapped_column(String(200))
    created: Mapped[datetime] = mapped_column(DateTime)


class TokenReader(Base):
    """A project a token minted by Trusted Reading may read, and why (the publisher or reader
    policy whose checks its ID token passed). Read at every request, so removing the publisher
    or the policy takes the access along (the rows cascade)."""

    __tablename__ = "token_readers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_id: Mapped[str] = mapped_column(ForeignKey("tokens.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    publisher_id: Mapped[int | None] = mapped_column(
        ForeignKey("publishers.id", ondelete="CASCADE"), nullable=True, index=True
    )
    reader_policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("reader_policies.id", ondelete="CASCADE"), nullable=True, index=True
    )


class TotpSecret(Base):
    """A user's TOTP key (RFC 6238), one per user (issue 20: a second factor for web sign-in).

    ``confirmed`` is False from enrolment until the user has typed one code from it: only a
    confirmed key is a second factor, and only an unconfirmed one is ever shown again.
    ``last_step`` is the RFC 6238 time step of the last code accepted: a code of that step or
    an earlier one is refused, so one seen over a shoulder cannot be used a second time.
    The key is sealed with the index's key file (``services/secret_keys.py``, migration 0028),
    bound to this row: the database alone computes no codes. A key stored in clear (before
    0028, or imported from such an index's export) still works, and the server seals it when
    it starts.
    """

    __tablename__ = "totp_secrets"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    secret: Mapped[str] = mapped_column(String(200))
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = mapped_column(DateTime)
    last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class WebAuthnCredential(Base):
    """A security key or platform authenticator a user registered (W3C WebAuthn Level 2).

    ``credential_id`` and ``public_key`` (COSE) are base64url text, as the browser gives them;
    ``sign_count`` is the authenticator's counter, which a cloned key would fail to advance.
    """

    __tablename__ = "webauthn_credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    public_key: Mapped[str] = mapped_column(Text)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    name: Mapped[str] = mapped_column(String(100))
    created: Mapped[datetime] = mapped_column(DateTime)
    last_used: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class RecoveryCode(Base):
    """One single-use recovery code, kept as the SHA-256 of its text (100 random bits, so no
    KDF is needed, as for tokens); ``used`` is set when it signs someone in."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(DateTime)
    used: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class PendingSignIn(Base):
    """A browser that gave the right password for an account with a second factor and has not
    given the factor yet. It is no session: nothing reads it but the second step's pages.
    Keyed, as sessions are, by the SHA-256 of its cookie's secret; ``challenge`` is the
    WebAuthn challenge of the last security-key prompt shown to it (base64url)."""

    __tablename__ = "pending_sign_ins"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    next_path: Mapped[str] = mapped_column(String(1000))
    challenge: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime)
    expires: Mapped[datetime] = mapped_column(DateTime, index=True)


class WebAuthnChallenge(Base):
    """The challenge of a security-key registration a signed-in browser was offered, keyed by
    its session: the answer must carry it (WebAuthn §7.1 step 8), and a new prompt replaces it."""

    __tablename__ = "webauthn_challenges"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("web_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    challenge: Mapped[str] = mapped_column(String(200))
    expires: Mapped[datetime] = mapped_column(DateTime)


class OrganisationRequest(Base):
    """A user's request for a new organisation, which an admin of the index approves or
    declines (warehouse's ``OrganizationApplication``). Approved, it names the organisation it
    created; declined, the admin's reason. Kept after the decision: the history of who asked."""

    __tablename__ = "organisation_requests"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    normalized_name: Mapped[str] = mapped_column(String(100), index=True)
    display_name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(20), index=True)  # pending|approved|declined
    decided_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decided: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), nullable=True
    )


class OrganisationName(Base):
    """Every name an organisation has held, in normal form (warehouse's
    ``OrganizationNameCatalog``): after a rename the old name redirects to the organisation
    and nobody else may take it; after a deletion (``organisation_id`` None, ``retired`` set)
    only an admin of the index may give it to a new organisation."""

    __tablename__ = "organisation_names"

    normalized_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id"), nullable=True, index=True
    )
    created: Mapped[datetime] = mapped_column(DateTime)
    retired: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class TeamReaderPolicy(Base):
    """A CI identity that may mint read tokens for every project a team has a role on (issue
    20, Trusted Reading): a :class:`ReaderPolicy` held by a team instead of one project. Which
    projects is decided at each read (``token_team_readers``), so a project leaving the team,
    or the organisation, takes the access along."""

    __tablename__ = "team_reader_policies"
    __table_args__ = (
        Index("ix_team_reader_policies_match", "kind", "issuer", "lookup"),
        {"sqlite_autoincrement": True},  # a removed policy's id is never given to another
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    issuer: Mapped[str] = mapped_column(String(500))
    lookup: Mapped[str] = mapped_column(String(500))
    config: Mapped[dict[str, str]] = mapped_column(JSON)
    added_by: Mapped[str] = mapped_column(String(200))
    created: Mapped[datetime] = mapped_column(DateTime)

    @property
    def project_id(self) -> None:
        """No one project: a team's policy reads the team's projects at each request (the
        exchange's journal and pins ask every matched rule for its project)."""
        return None


class TokenTeamReader(Base):
    """A team reader policy whose checks a token minted by Trusted Reading passed: the token
    reads the team's projects of the moment while this row exists (it cascades away with the
    policy, the team or the token)."""

    __tablename__ = "token_team_readers"

    token_id: Mapped[str] = mapped_column(
        ForeignKey("tokens.id", ondelete="CASCADE"), primary_key=True
    )
    team_reader_policy_id: Mapped[int] = mapped_column(
        ForeignKey("team_reader_policies.id", ondelete="CASCADE"), primary_key=True, index=True
    )
