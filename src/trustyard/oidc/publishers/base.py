"""What every publisher kind declares, and the one routine that applies the declarations.

Modelled on warehouse ``oidc/models/_core.py``: a table of required claims with their checks, a
table of optional ones (checked when present), run in order, the first failure explaining why.
A kind also declares its configuration fields (from which the ``trustyard publisher`` options
and the web forms are made), its PEP 740 attestation identity and its ``verify --publisher``
form: everything the rest of trustyard knows about a kind is read from here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from trustyard.errors import InvalidInput
from trustyard.oidc.errors import PublisherMismatch

Config = Mapping[str, str]
Claims = Mapping[str, Any]
# A check gets the stored publisher, the claim's value and all claims; it returns the reason
# for a failure, or None when the claim is acceptable.
Check = Callable[[Config, Any, Claims], str | None]
ISSUER_HELP = "the issuer URL (default: the kind's public issuer)"


def present(_config: Config, _value: Any, _claims: Claims) -> str | None:
    """The claim need only be there (its value is checked elsewhere, e.g. ``jti`` replay)."""
    return None


@dataclass(frozen=True)
class Field:
    """One key of a kind's stored configuration, as people give it.

    The CLI option is ``--name`` (dashes for underscores), the web form's field is ``name``.
    """

    name: str
    required: bool = False
    help: str | None = None  # the CLI option's help
    # The web form's label; "" keeps the field off the form (a form may still send it).
    label: str = ""
    # The label on the pending-publisher form, where a plain one could be confused with the
    # project's name ("" for the same label).
    pending_label: str = ""
    maxlength: int = 200
    placeholder: str = ""
    inputmode: str = ""
    input_type: str = ""  # the <input>'s type (url, email); text when ""
    # Given as NAME=VALUE pairs (a repeatable CLI option of this name, one pair a line in a
    # form's textarea) and stored as a JSON object.
    pairs_option: str = ""
    # Why a given value is refused (None when acceptable); checked at registration.
    check: Callable[[str], str | None] | None = None

    @property
    def option(self) -> str:
        """The CLI option that gives this field."""
        return "--" + (self.pairs_option or self.name).replace("_", "-")


def issuer_field(label: str = "", *, required: bool = False) -> Field:
    """The ``issuer`` every kind stores (its default issuer when left empty)."""
    return Field(
        "issuer", required=required, help=ISSUER_HELP, label=label, maxlength=500, input_type="url"
    )


def _pairs_from_options(option: str, items: Iterable[str]) -> str:
    pairs: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InvalidInput(f"{option} takes NAME=VALUE, not {item!r}")
        pairs[name] = value
    return json.dumps(pairs, sort_keys=True)


def _pairs_from_form(name: str, text: str) -> str:
    pairs: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        pair, sep, value = line.strip().partition("=")
        if not sep or not pair:
            raise InvalidInput(f"{name} are NAME=VALUE, one a line, not {line[:60]!r}")
        pairs[pair.strip()] = value.strip()
    return json.dumps(pairs, sort_keys=True)


@dataclass(frozen=True)
class PublisherKind:
    """A kind of publisher: its stored fields, default issuer and claim policy."""

    name: str
    default_issuer: str | None
    fields: tuple[Field, ...]  # the stored configuration's keys, in the order people give them
    required_claims: Mapping[str, Check]
    optional_claims: Mapping[str, Check] = field(default_factory=dict)
    # PyPI's name for the kind (warehouse ``publisher_name``), also PEP 740's publisher kind.
    display_name: str = ""
    summary: str = ""  # what a publisher of this kind is, for the CLI's help
    title: str = ""  # the heading of its web form
    html_id: str = ""  # the prefix of its web form's element ids
    # The value, derived from a configuration, that narrows the database search for matches.
    lookup_of_config: Callable[[Config], str] = lambda config: ""
    # The same value derived from a token's claims (None: the token cannot match this kind).
    lookup_of_claims: Callable[[Claims], str | None] = lambda claims: ""
    # Whether a jti must be present and is enforced once (Google's ID tokens carry none).
    single_use: bool = True
    # Claims kept with a minted token, for the audit log and provenance (warehouse stored_claims).
    stored_claims: tuple[str, ...] = ()
    # A configuration in a few words, for people: the parts are joined by spaces in listings
    # and by commas where provenance is shown.
    description: Callable[[Config], Sequence[str]] = lambda config: ()
    # Whether one token could match publishers of both configurations, whatever their
    # environments: two pending publishers that overlap would both claim one CI job's first
    # publish (issue 14), so a second is refused (warehouse refuses an identical one).
    overlaps: Callable[[Config, Config], bool] = lambda first, second: True
    # Configuration fields left empty at registration that the first successful exchange
    # fills from a claim (field -> claim), so that later tokens must carry the same value.
    pinned_at_first_use: Mapping[str, str] = field(default_factory=dict)
    # PEP 740 attestation identity (warehouse ``attestation_identity``): the pypi-attestations
    # publisher's fields, each from a configuration key; empty when the kind has none.
    attestation_fields: Mapping[str, str] = field(default_factory=dict)
    # ``trustyard verify --publisher KIND:SPEC``: the SPEC's form (for messages), the
    # configuration a SPEC names (None when malformed), and the SPEC of a configuration.
    spec_form: str = ""
    parse_spec: Callable[[str], dict[str, str] | None] = lambda spec: None
    spec_of: Callable[[Config], str] = lambda config: ""

    @property
    def field_names(self) -> tuple[str, ...]:
        """The stored configuration's keys."""
        return tuple(f.name for f in self.fields)

    def check(self, config: Config, claims: Claims) -> None:
        """Raise :class:`PublisherMismatch` with the first reason the claims do not fit."""
        for name, check in self.required_claims.items():
            if name not in claims:
                raise PublisherMismatch(f"Missing claim {name!r}")
            reason = check(config, claims[name], claims)
            if reason:
                raise PublisherMismatch(reason)
        for name, check in self.optional_claims.items():
            reason = check(config, claims.get(name), claims)
            if reason:
                raise PublisherMismatch(reason)

    def validate_config(self, config: Config) -> dict[str, str]:
        """The configuration with unknown keys refused, required ones present and every
        given value passing its field's check."""
        unknown = set(config) - set(self.field_names)
        if unknown:
            raise PublisherMismatch(f"unknown {self.name} publisher fields: {sorted(unknown)}")
        missing = [f.name for f in self.fields if f.required and not config.get(f.name)]
        if missing:
            raise PublisherMismatch(f"{self.name} publishers need: {', '.join(missing)}")
        for f in self.fields:
            value = config.get(f.name)
            reason = f.check(value) if f.check and value else None
            if reason:
                raise PublisherMismatch(reason)
        return {k: v for k, v in config.items() if v}

    def config_from_options(self, options: Mapping[str, Any]) -> dict[str, str]:
        """The configuration the CLI's options give (``options`` keyed by field name)."""
        return {
            f.name: (
                _pairs_from_options(f.option, options[f.name])
                if f.pairs_option
                else options[f.name]
            )
            for f in self.fields
        }

    def config_from_form(self, form: Mapping[str, str]) -> dict[str, str]:
        """The configuration a web form gives (values stripped)."""
        config = {f.name: form.get(f.name, "").strip() for f in self.fields}
        for f in self.fields:
            if f.pairs_option:
                config[f.name] = _pairs_from_form(f.name, config[f.name])
        return config

    def describe(self, config: Config, separator: str = " ") -> str:
        """A configuration in a few words."""
        return separator.join(self.description(config))

    def attestation_publisher(self, config: Config) -> dict[str, Any] | None:
        """The PEP 740 publisher object a publisher of this configuration signs as (None: the
        kind has no attestation identity). An empty environment is ``None``, as PyPI's."""
        if not self.attestation_fields:
            return None
        identity: dict[str, Any] = {"kind": self.display_name}
        for name, key in self.attestation_fields.items():
            identity[name] = config.get(key) or None
        return identity

    def config_of_attestation(self, publisher: Mapping[str, Any]) -> dict[str, str]:
        """The configuration keys a PEP 740 publisher object names (the inverse of
        :meth:`attestation_publisher`)."""
        return {
            key: str(publisher[name])
            for name, key in self.attestation_fields.items()
            if publisher.get(name) not in (None, "")
        }

    def spec(self, config: Config) -> str:
        """``KIND:SPEC``, as ``verify --publisher`` takes it."""
        return f"{self.name}:{self.spec_of(config)}"


def text_claim(claims: Claims, name: str) -> str:
    """A claim that should be text, or "" when it is absent or not a string.

    A verified token's claims are any JSON: a list where text belongs must read as empty (a
    refusal), never reach a set or a comparison that raises.
    """
    value = claims.get(name)
    return value if isinstance(value, str) else ""


def equal_ci(expected: str, actual: Any) -> bool:
    """Case-insensitive equality of two strings (GitHub and GitLab names are case-insensitive)."""
    return isinstance(actual, str) and expected.lower() == actual.lower()


def at_environment(config: Config) -> str:
    """``@ENVIRONMENT`` when the configuration names one, for ``verify --publisher`` specs."""
    environment = config.get("environment")
    return f"@{environment}" if environment else ""


def with_environment(config: dict[str, str], environment: str) -> dict[str, str]:
    """``config`` with its ``environment`` when one was given."""
    return {**config, "environment": environment} if environment else config
