"""The OpenAPI 3.1 description of the index's JSON endpoints, as data (OpenAPI Specification
3.1.0; the shapes are PEP 691, PEP 740's Integrity API, warehouse's JSON API and oidc views).

Served at ``/openapi.json``; ``tests/index/test_openapi.py`` runs schemathesis against a live
index with it, so every status and shape listed here is one the index really gives, and none
it gives is missing. Examples name the project the test seeds, so that examples reach data.
"""

from __future__ import annotations

import hashlib
from typing import Any

from trustyard.dists.mediatypes import (
    APPLICATION_JSON,
    INTEGRITY_V1_JSON,
    PYTP_V1_JSON,
    SIMPLE_V1_HTML,
    SIMPLE_V1_JSON,
    TEXT_HTML,
)

EXAMPLE_PROJECT = "demo"
EXAMPLE_VERSION = "1.0"
EXAMPLE_FILE = "demo-1.0-py3-none-any.whl"

_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], *media: str) -> dict[str, Any]:
    return {kind: {"schema": schema} for kind in media or (APPLICATION_JSON,)}


def _path_param(name: str, example: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "minLength": 1},
        "example": example,
    }


_LOCATION = {"Location": {"required": True, "schema": {"type": "string", "minLength": 1}}}
_RETRY_AFTER = {
    "Retry-After": {"required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}
}
# PyPI's upload-style errors (trustyard.index.http.error_response): text, or JSON on request.
_PYPI_ERROR = {
    "text/plain": {"schema": _STRING},
    APPLICATION_JSON: {"schema": _ref("PyramidError")},
}


def _simple_error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _PYPI_ERROR}


def _json_error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json(_ref("Message"))}


def _token_error(description: str, **extra: Any) -> dict[str, Any]:
    return {"description": description, "content": _json(_ref("TokenError")), **extra}


_LIMITS = {
    "408": _token_error("The body stalled or arrived too slowly."),
    "413": _token_error("The body is larger than the index accepts here."),
}
_TOKEN_BODY = {
    "required": True,
    "description": "Read as JSON whatever the Content-Type, as PyPI does.",
    "content": _json(_ref("TokenRequest")),
}


def _mint_operation(summary: str, operation_id: str) -> dict[str, Any]:
    return {
        "summary": summary,
        "operationId": operation_id,
        "requestBody": _TOKEN_BODY,
        "responses": {
            "200": {"description": "A 15-minute upload token.", "content": _json(_ref("Minted"))},
            "422": _token_error("The exchange was refused; ``errors`` says why."),
            "429": _token_error(
                "Too many exchanges from this address or by this publisher.",
                headers=_RETRY_AFTER,
            ),
            **_LIMITS,
        },
    }


_SIMPLE_FILE: dict[str, Any] = {
    "type": "object",
    "required": ["filename", "url", "hashes"],
    "properties": {
        "filename": _STRING,
        "url": _STRING,
        "hashes": {"type": "object", "additionalProperties": _STRING},
        "requires-python": _NULLABLE_STRING,
        "size": {"type": "integer", "minimum": 0},
        "upload-time": _STRING,
        "yanked": {"type": ["boolean", "string"]},
        "data-dist-info-metadata": {"type": ["boolean", "object"]},
        "core-metadata": {"type": ["boolean", "object"]},
        "provenance": _NULLABLE_STRING,
    },
}
_META = {
    "type": "object",
    "required": ["api-version"],
    "properties": {"api-version": _STRING, "_last-serial": {"type": "integer"}},
}
_JSON_FILE: dict[str, Any] = {
    "type": "object",
    "required": ["filename", "url", "digests", "packagetype", "size", "yanked"],
    "properties": {
        "filename": _STRING,
        "url": _STRING,
        "digests": {
            "type": "object",
            "required": ["sha256", "md5", "blake2b_256"],
            "additionalProperties": _STRING,
        },
        "packagetype": {"enum": ["sdist", "bdist_wheel"]},
        "python_version": _STRING,
        "requires_python": _NULLABLE_STRING,
        "size": {"type": "integer", "minimum": 0},
        "upload_time": _STRING,
        "upload_time_iso_8601": _STRING,
        "yanked": {"type": "boolean"},
        "yanked_reason": _NULLABLE_STRING,
    },
}
# PEP 792: the project's status marker and its optional reason.
_PROJECT_STATUS: dict[str, Any] = {
    "type": "object",
    "required": ["status"],
    "properties": {
        "status": {"type": "string", "enum": ["active", "archived", "quarantined", "deprecated"]},
        "reason": _STRING,
    },
}

_RELEASE_DOCUMENT: dict[str, Any] = {
    "type": "object",
    "required": ["info", "last_serial", "urls", "vulnerabilities"],
    "properties": {
        "info": {
            "type": "object",
            "required": ["name", "version", "yanked"],
            "properties": {"name": _STRING, "version": _STRING, "yanked": {"type": "boolean"}},
        },
        "last_serial": {"type": "integer"},
        "project-status": _PROJECT_STATUS,
        "urls": {"type": "array", "items": _ref("JsonFile")},
        "vulnerabilities": {"type": "array"},
    },
}

SCHEMAS: dict[str, Any] = {
    "Message": {"type": "object", "required": ["message"], "properties": {"message": _STRING}},
    "PyramidError": {
        "type": "object",
        "required": ["message", "code", "title"],
        "properties": {"message": _STRING, "code": _STRING, "title": _STRING},
    },
    "TokenRequest": {
        "type": "object",
        "required": ["token"],
        "properties": {"token": {"type": "string", "maxLength": 8192}},
    },
    "TokenError": {
        "type": "object",
        "required": ["message", "errors"],
        "properties": {
            "message": _STRING,
            "errors": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["code", "description"],
                    "properties": {"code": _STRING, "description": _STRING},
                },
            },
        },
    },
    "Minted": {
        "type": "object",
        "required": ["success", "token", "expires"],
        "properties": {
            "success": {"const": True},
            "token": _STRING,
            "expires": {"type": "integer"},
        },
    },
    "SimpleIndex": {
        "type": "object",
        "required": ["meta", "projects"],
        "properties": {
            "meta": _META,
            "projects": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": _STRING, "_last-serial": {"type": "integer"}},
                },
            },
        },
    },
    "SimpleProject": {
        "type": "object",
        "required": ["meta", "name", "files"],
        "properties": {
            "meta": _META,
            "name": _STRING,
            "versions": {"type": "array", "items": _STRING},
            "files": {"type": "array", "items": _SIMPLE_FILE},
            "project-status": _PROJECT_STATUS,
        },
    },
    "JsonFile": _JSON_FILE,
    "ReleaseDocument": _RELEASE_DOCUMENT,
    "ProjectDocument": {
        "allOf": [
            _ref("ReleaseDocument"),
            {
                "type": "object",
                "required": ["releases"],
                "properties": {
                    "releases": {
                        "type": "object",
                        "additionalProperties": {"type": "array", "items": _ref("JsonFile")},
                    }
                },
            },
        ]
    },
    "Provenance": {
        "type": "object",
        "required": ["version", "attestation_bundles"],
        "properties": {
            "version": {"const": 1},
            "attestation_bundles": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["publisher", "attestations"],
                    "properties": {
                        "publisher": {"type": "object", "required": ["kind"]},
                        "attestations": {"type": "array", "items": {"type": "object"}},
                    },
                },
            },
        },
    },
}

_PROJECT = _path_param("project", EXAMPLE_PROJECT, "A project name, in any spelling.")
_NAME = _path_param("name", EXAMPLE_PROJECT, "A project name, in any spelling.")
_VERSION = _path_param("version", EXAMPLE_VERSION, "A version, in any PEP 440 spelling.")
_FILE = _path_param("file", EXAMPLE_FILE, "A distribution filename of that release.")

PATHS: dict[str, Any] = {
    "/simple/": {
        "get": {
            "summary": "Every project (PEP 503 HTML or PEP 691 JSON, chosen by Accept).",
            "operationId": "simpleIndex",
            "responses": {
                "200": {
                    "description": "The index page.",
                    "content": {
                        SIMPLE_V1_JSON: {"schema": _ref("SimpleIndex")},
                        SIMPLE_V1_HTML: {"schema": _STRING},
                        TEXT_HTML: {"schema": _STRING},
                    },
                }
            },
        }
    },
    "/simple/{name}/": {
        "get": {
            "summary": "One project's files (PEP 691; PEP 700 fields; PEP 740 provenance links).",
            "operationId": "simpleProject",
            "parameters": [_NAME],
            "responses": {
                "200": {
                    "description": "The project page.",
                    "content": {
                        SIMPLE_V1_JSON: {"schema": _ref("SimpleProject")},
                        SIMPLE_V1_HTML: {"schema": _STRING},
                        TEXT_HTML: {"schema": _STRING},
                    },
                },
                "301": {"description": "To the normalised name (PEP 503).", "headers": _LOCATION},
                "404": _simple_error("No such project."),
            },
        }
    },
    "/pypi/{name}/json": {
        "get": {
            "summary": "PyPI's JSON API: a project, ``info`` of its latest release.",
            "operationId": "projectJson",
            "parameters": [_NAME],
            "responses": {
                "200": {"description": "The project.", "content": _json(_ref("ProjectDocument"))},
                "301": {"description": "To the project's own spelling.", "headers": _LOCATION},
                "404": _json_error("No such project, or one without releases."),
            },
        }
    },
    "/pypi/{name}/{version}/json": {
        "get": {
            "summary": "PyPI's JSON API: one release.",
            "operationId": "releaseJson",
            "parameters": [_NAME, _VERSION],
            "responses": {
                "200": {"description": "The release.", "content": _json(_ref("ReleaseDocument"))},
                "301": {"description": "To the release's own spelling.", "headers": _LOCATION},
                "404": _json_error("No such project or release."),
            },
        }
    },
    "/integrity/{project}/{version}/{file}/provenance": {
        "get": {
            "summary": "PEP 740 Integrity API: a file's provenance.",
            "operationId": "provenance",
            "parameters": [_PROJECT, _VERSION, _FILE],
            "responses": {
                "200": {
                    "description": "The provenance object.",
                    "content": _json(_ref("Provenance"), INTEGRITY_V1_JSON, APPLICATION_JSON),
                },
                "404": _json_error("No such file, or a file uploaded without attestations."),
                "406": _json_error("The Accept header allows neither JSON media type."),
            },
        }
    },
    "/_/oidc/audience": {
        "get": {
            "summary": "The audience CI tokens must be minted for.",
            "operationId": "audience",
            "responses": {
                "200": {
                    "description": "The audience.",
                    "content": _json(
                        {
                            "type": "object",
                            "required": ["audience"],
                            "properties": {"audience": _STRING},
                        }
                    ),
                },
                "403": _json_error("Trusted Publishing is turned off on this index."),
            },
        }
    },
    "/_/oidc/mint-token": {
        "post": _mint_operation("Exchange a CI OIDC token for an upload token.", "mintToken")
    },
    "/_/oidc/github/mint-token": {
        "post": _mint_operation("The same exchange, at its older path.", "mintTokenGithub")
    },
    "/_/oidc/read-audience": {
        "get": {
            "summary": "The audience CI tokens for Trusted Reading must be minted for.",
            "operationId": "readAudience",
            "responses": {
                "200": {
                    "description": "The read audience (never the publishing one).",
                    "content": _json(
                        {
                            "type": "object",
                            "required": ["audience"],
                            "properties": {"audience": _STRING},
                        }
                    ),
                },
                "403": _json_error("Trusted Publishing is turned off on this index."),
            },
        }
    },
    "/_/oidc/mint-read-token": {
        "post": _mint_operation(
            "Exchange a CI OIDC token (read audience) for a 15-minute read-only token.",
            "mintReadToken",
        )
    },
    "/.well-known/pytp/{key}": {
        "get": {
            "summary": "PEP 807 (draft): where the Trusted Publishing endpoints are.",
            "operationId": "pytpDiscovery",
            "parameters": [
                _path_param(
                    "key",
                    hashlib.sha256(b"/legacy/").hexdigest(),
                    "The SHA-256 (hex) of the upload URL's path.",
                )
            ],
            "responses": {
                "200": {
                    "description": "The endpoints, and Trusted Reading's as extension fields.",
                    "content": _json(
                        {
                            "type": "object",
                            "required": ["audience-endpoint", "mint-token-endpoint"],
                            "properties": {
                                "audience-endpoint": _STRING,
                                "mint-token-endpoint": _STRING,
                                "trustyard-read-audience-endpoint": _STRING,
                                "trustyard-mint-read-token-endpoint": _STRING,
                                "trustyard-burn-read-token-endpoint": _STRING,
                            },
                        },
                        PYTP_V1_JSON,
                    ),
                },
                "404": {"description": "No upload URL of this index has that key."},
                "406": _token_error("The Accept header excludes the PEP's media type."),
            },
        }
    },
    "/_/oidc/burn-token": {
        "post": {
            "summary": "Revoke a minted token before it expires.",
            "operationId": "burnToken",
            "requestBody": _TOKEN_BODY,
            "responses": {
                "200": {
                    "description": "Revoked.",
                    "content": _json(
                        {
                            "type": "object",
                            "required": ["success"],
                            "properties": {"success": {"const": True}},
                        }
                    ),
                },
                "422": _token_error("Not a token this index minted."),
                **_LIMITS,
            },
        }
    },
    "/_/oidc/burn-read-token": {
        "post": {
            "summary": "Revoke a read token Trusted Reading minted, before it expires.",
            "operationId": "burnReadToken",
            "requestBody": _TOKEN_BODY,
            "responses": {
                "200": {
                    "description": "Revoked (or revoked already): it reads nothing from now on.",
                    "content": _json(
                        {
                            "type": "object",
                            "required": ["success"],
                            "properties": {"success": {"const": True}},
                        }
                    ),
                },
                "422": _token_error("Not a read token this index minted."),
            },
        }
    },
}

_WWW_AUTHENTICATE = {"WWW-Authenticate": {"required": True, "schema": _STRING}}


def _add_read_refusals(paths: dict[str, Any]) -> None:
    """Issue 20: a read needs credentials on a private index (or for a private project): 401
    with the Basic challenge without them, 403 for a reader without the right; the token is
    the password, with any username."""
    for path, error in (
        ("/simple/", _simple_error),
        ("/simple/{name}/", _simple_error),
        ("/pypi/{name}/json", _json_error),
        ("/pypi/{name}/{version}/json", _json_error),
        ("/integrity/{project}/{version}/{file}/provenance", _json_error),
    ):
        read = paths[path]["get"]
        read["security"] = [{}, {"apiToken": []}]
        read["responses"]["401"] = {
            **error("No credentials, or no valid API token, for a private index or project."),
            "headers": _WWW_AUTHENTICATE,
        }
        read["responses"]["403"] = error("The token's reader may not read this project.")


_add_read_refusals(PATHS)

DESCRIPTION: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "trustyard index",
        "version": "1",
        "description": "The JSON endpoints of a trustyard index, each as PyPI serves it.",
    },
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {
            "apiToken": {
                "type": "http",
                "scheme": "basic",
                "description": "An API token as the password (any username, e.g. __token__).",
            }
        },
    },
}
