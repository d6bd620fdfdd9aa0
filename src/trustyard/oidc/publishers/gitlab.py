"""GitLab CI/CD publishers: PyPI's claim rules (warehouse ``oidc/models/gitlab.py``).

Self-managed GitLab is a publisher with its own ``issuer`` (PyPI's custom issuers, #15838);
the namespace and project match case-insensitively, the environment case-sensitively (#18338).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from trustyard.oidc.publishers.base import (
    Claims,
    Config,
    Field,
    PublisherKind,
    at_environment,
    equal_ci,
    issuer_field,
    present,
    text_claim,
    with_environment,
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


def _project_form(value: str) -> str | None:
    return None if "/" in value else f"--project must be NAMESPACE/PROJECT, not {value!r}"


def _parse_spec(spec: str) -> dict[str, str] | None:
    """``NAMESPACE/PROJECT/PATH/TO/CI.yml[@ENVIRONMENT]``, or ``NAMESPACE/PROJECT//PATH`` when
    the project is in a subgroup."""
    path, _, environment = spec.partition("@")
    project, double, workflow = path.partition("//")
    if not double:
        project, _, workflow = path.rpartition("/")
    segments = project.split("/")
    if len(segments) < 2 or not all(segments) or not workflow.endswith((".yml", ".yaml")):
        return None
    return with_environment({"project": project, "workflow_path": workflow}, environment)


def _description(config: Config) -> list[str]:
    environment = config.get("environment")
    return [
        f"GitLab {config['project']}",
        f"pipeline {config['workflow_path']}",
        *([f"environment {environment}"] if environment else []),
    ]


GITLAB = PublisherKind(
    name="gitlab",
    default_issuer=ISSUER,
    display_name="GitLab",
    summary="a GitLab CI/CD pipeline",
    title="GitLab CI/CD",
    html_id="gl",
    fields=(
        Field(
            "project",
            required=True,
            help="NAMESPACE/PROJECT",
            label="Project (NAMESPACE/PROJECT)",
            pending_label="GitLab project (NAMESPACE/PROJECT)",
            check=_project_form,
        ),
        Field(
            "workflow_path",
            required=True,
            help="e.g. .gitlab-ci.yml",
            label="CI file path",
            placeholder=".gitlab-ci.yml",
        ),
        Field("environment", help="require this environment", label="Environment (optional)"),
        issuer_field("Issuer (optional; default gitlab.com)"),
    ),
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
    description=_description,
    attestation_fields={
        "repository": "project",
        "workflow_filepath": "workflow_path",
        "environment": "environment",
    },
    spec_form="NAMESPACE/PROJECT/PATH/TO/CI.yml[@ENVIRONMENT] (or NAMESPACE/PROJECT//PATH)",
    parse_spec=_parse_spec,
    spec_of=lambda config: (
        f"{config['project']}//{config['workflow_path']}{at_environment(config)}"
    ),
)
