"""GitHub Actions publishers: PyPI's claim rules (warehouse ``oidc/models/github.py``).

Two of PyPI's open complaints are fixed where it is safe: the owner and repository match
case-insensitively (#15498, #14622), and a reusable workflow kept in another repository can be
registered explicitly with ``workflow_repository`` (#11096).
"""

from __future__ import annotations

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

ISSUER = "https://token.actions.githubusercontent.com"


def _repository(config: Config, value: object, _claims: Claims) -> str | None:
    if equal_ci(config["repository"], value):
        return None
    return "Check failed for required claim 'repository'"


def _repository_owner(config: Config, value: object, claims: Claims) -> str | None:
    """The owner claim must name the registered repository's owner and the token's own
    ``repository`` claim's owner (warehouse checks ``repository_owner`` as a claim of its own)."""
    registered = config["repository"].split("/", 1)[0]
    claimed = text_claim(claims, "repository").split("/", 1)[0]
    if equal_ci(registered, value) and equal_ci(claimed, value):
        return None
    return "Check failed for required claim 'repository_owner'"


def _owner_id(config: Config, value: object, _claims: Claims) -> str | None:
    expected = config.get("owner_id")
    if expected is None or str(value) == expected:
        return None
    return "Check failed for required claim 'repository_owner_id'"


def _job_workflow_ref(config: Config, value: object, claims: Claims) -> str | None:
    """``job_workflow_ref`` must name exactly the registered workflow file, at ``ref`` or ``sha``.

    Compared as a whole string (never searched), so a workflow name cannot be smuggled in
    through a branch name containing ``.yml@``.
    """
    ref, sha = text_claim(claims, "ref"), text_claim(claims, "sha")
    if not ref and not sha:
        return "The ref and sha claims are empty"
    if not isinstance(value, str) or "@" not in value:
        return "The job_workflow_ref claim is malformed"
    path, _, at = value.partition("@")
    workflow_repository = config.get("workflow_repository") or config["repository"]
    expected = f"{workflow_repository}/.github/workflows/{config['workflow']}"
    prefix_len = len(workflow_repository)
    same_path = (
        len(path) == len(expected)
        and equal_ci(workflow_repository, path[:prefix_len])
        and path[prefix_len:] == expected[prefix_len:]
    )
    if same_path and at in {ref, sha} and at:
        return None
    return (
        "The job_workflow_ref claim does not match, expecting one of"
        f" {[f'{expected}@{ref}', f'{expected}@{sha}']}"
    )


def _event_name(_config: Config, value: object, _claims: Claims) -> str | None:
    if value == "pull_request_target":
        return "Publishing from a workflow invoked via 'pull_request_target' is not supported."
    return None


def _environment(config: Config, value: object, _claims: Claims) -> str | None:
    expected = config.get("environment")
    if not expected:
        return None
    if isinstance(value, str) and value and equal_ci(expected, value):
        return None
    return "Check failed for optional claim 'environment'"


def _lookup_of_claims(claims: Claims) -> str | None:
    repository = claims.get("repository")
    return repository.lower() if isinstance(repository, str) else None


def _overlaps(first: Config, second: Config) -> bool:
    """Same repository, workflow repository and workflow file; environment and owner id aside
    (warehouse's unique (owner, repository, workflow, environment), widened to every
    environment). Case-insensitive throughout: refusing too much here is harmless."""

    def identity(config: Config) -> tuple[str, str, str]:
        repository = config["repository"].lower()
        workflow_repository = (config.get("workflow_repository") or repository).lower()
        return repository, workflow_repository, config["workflow"].lower()

    return identity(first) == identity(second)


def _repository_form(value: str) -> str | None:
    if value.count("/") != 1 or not all(value.split("/")):
        return f"--repository must be OWNER/REPO, not {value!r}"
    return None


def _workflow_form(value: str) -> str | None:
    if "/" in value or not value.endswith((".yml", ".yaml")):
        return f"--workflow must be a file name like release.yml, not {value!r}"
    return None


def _parse_spec(spec: str) -> dict[str, str] | None:
    """``OWNER/REPO/WORKFLOW.yml[@ENVIRONMENT]``."""
    path, _, environment = spec.partition("@")
    parts = path.split("/")
    if len(parts) != 3 or not all(parts) or not parts[2].endswith((".yml", ".yaml")):
        return None
    return with_environment(
        {"repository": f"{parts[0]}/{parts[1]}", "workflow": parts[2]}, environment
    )


def _description(config: Config) -> list[str]:
    environment = config.get("environment")
    return [
        f"GitHub {config['repository']}",
        f"workflow {config['workflow']}",
        *([f"environment {environment}"] if environment else []),
    ]


GITHUB = PublisherKind(
    name="github",
    default_issuer=ISSUER,
    display_name="GitHub",
    summary="a GitHub Actions workflow",
    title="GitHub Actions",
    html_id="gh",
    fields=(
        Field(
            "repository",
            required=True,
            help="OWNER/REPO",
            label="Repository (OWNER/REPO)",
            check=_repository_form,
        ),
        Field(
            "workflow",
            required=True,
            help="the workflow file, e.g. release.yml",
            label="Workflow file name",
            placeholder="release.yml",
            check=_workflow_form,
        ),
        Field(
            "environment",
            help="require this deployment environment",
            label="Environment (optional)",
        ),
        Field(
            "owner_id",
            help="the owner's numeric id (stops resurrection)",
            label="Owner id (optional)",
            maxlength=40,
            inputmode="numeric",
        ),
        Field(
            "workflow_repository",
            help="OWNER/REPO holding the reusable workflow, when it lives in another repository",
        ),
        issuer_field("Issuer (optional; default GitHub's)"),
    ),
    required_claims={
        "repository": _repository,
        "repository_owner": _repository_owner,
        "repository_owner_id": _owner_id,
        "job_workflow_ref": _job_workflow_ref,
        "ref": present,
        "sha": present,
        "jti": present,
        "event_name": _event_name,
    },
    optional_claims={"environment": _environment},
    lookup_of_config=lambda config: config["repository"].lower(),
    lookup_of_claims=_lookup_of_claims,
    stored_claims=("ref", "sha", "environment", "workflow_ref", "job_workflow_ref"),
    overlaps=_overlaps,
    # Without --owner-id, the owner of the first successful exchange is kept: a later account
    # of the same name (a deleted owner's name taken again) has another id and is refused.
    # PyPI asks GitHub's API for the id at registration instead.
    pinned_at_first_use={"owner_id": "repository_owner_id"},
    description=_description,
    attestation_fields={
        "repository": "repository",
        "workflow": "workflow",
        "environment": "environment",
    },
    spec_form="OWNER/REPO/WORKFLOW.yml[@ENVIRONMENT]",
    parse_spec=_parse_spec,
    spec_of=lambda config: f"{config['repository']}/{config['workflow']}{at_environment(config)}",
)
