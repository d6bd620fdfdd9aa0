"""GitLab CI/CD publishers: PyPI's claim rules (warehouse ``oidc/models/gitlab.py``).

Self-managed GitLab is a publisher with its own ``issuer`` (PyPI's custom issuers, #15838);
the namespace and project match case-insensitively, the environment case-sensitively (#18338).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from trustyard.oidc.publishers.base import (
    Claims,
    Config,
    PublisherKind,
    equal_ci,
    present,
    text_claim,
)

ISSUER = "https://gitlab.com"


def _project_path(config: Config, value: object, _claims: Claims) -> str | None:
    if equal_ci(config["project"], value):
        return None
    return "Check failed for required claim 'project_path'"


def _sub(config: Config, value: object, _claims: Claims) -> str | None:
    prefix = f"project_path:{config['project']}:".lower()
    if isinstance(value, str) and value.lower().startswith(prefix):
        return None
    return "Check failed for required claim 'sub'"


def _ci_config_ref_uri(config: Config, value: object, claims: Claims) -> str | None:
    ref_path, sha = text_claim(claims, "ref_path"), text_claim(claims, "sha")
    if not ref_path or not sha:
        return "The ref_path and sha claims must both be present and non-empty"
    host = urlsplit(config["issuer"]).netloc
    if not isinstance(value, str) or "@" not in value:
        return "The ci_config_ref_uri claim is malformed"
    location, _, at = value.rpartition("@")
    expected = f"{host}/{config['project']}//{config['workflow_path']}"
    if (
        equal_ci(expected, location)
        and location.endswith(config["workflow_path"])
        and at
        in {
            ref_path,
            sha,
        }
    ):
        return None
    return (
        "The ci_config_ref_uri claim does not match, expecting one of"
        f" {[f'{expected}@{ref_path}', f'{expected}@{sha}']}"
    )


def _environment(config: Config, value: object, _claims: Claims) -> str | None:
    expected = config.get("environment")
    if not expected or value == expected:
        return None
    return "Check failed for optional claim 'environment'"


def _lookup_of_claims(claims: Claims) -> str | None:
    project = claims.get("project_path")
    return project.lower() if isinstance(project, str) else None


def _overlaps(first: Config, second: Config) -> bool:
    """Same project and pipeline file, whatever the environment (see ``PublisherKind``)."""
    return (first["project"].lower(), first["workflow_path"].lower()) == (
        second["project"].lower(),
        second["workflow_path"].lower(),
    )


GITLAB = PublisherKind(
    name="gitlab",
    default_issuer=ISSUER,
    fields=("project", "workflow_path", "environment", "issuer"),
    optional_fields=frozenset({"environment", "issuer"}),
    required_claims={
        "sub": _sub,
        "project_path": _project_path,
        "ci_config_ref_uri": _ci_config_ref_uri,
        "ref_path": present,
        "sha": present,
        "jti": present,
    },
    optional_claims={"environment": _environment},
    lookup_of_config=lambda config: config["project"].lower(),
    lookup_of_claims=_lookup_of_claims,
    stored_claims=("ref_path", "sha", "environment", "ci_config_ref_uri"),
    overlaps=_overlaps,
    describe=lambda config: (
        f"GitLab {config['project']} pipeline {config['workflow_path']}"
        + (f" environment {config['environment']}" if config.get("environment") else "")
    ),
)
