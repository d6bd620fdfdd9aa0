"""A keyring backend that keeps its secrets in a JSON file named by ``$TEST_KEYRING_FILE``.

The private-index tests give it to the real ``keyring`` package (``PYTHON_KEYRING_BACKEND=
tests.e2e.file_keyring.FileKeyring``), so that the real ``keyring`` command line (uv's and pip's
``--keyring-provider subprocess``) and ``import keyring`` (pip's ``--keyring-provider import``)
answer from a file of the test's own instead of the user's desktop keyring, which a test must
neither read nor write. Secrets are set the way a user sets them: ``keyring set SERVICE USER``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.credentials import Credential, SimpleCredential
from keyring.errors import PasswordDeleteError

Store = dict[str, dict[str, str]]  # service -> username -> password


class FileKeyring(KeyringBackend):
    """Passwords by service and username, in plain JSON (for tests only)."""

    priority = 1  # above the fail backend, so that keyring takes it

    @staticmethod
    def _path() -> Path:
        return Path(os.environ["TEST_KEYRING_FILE"])

    def _load(self) -> Store:
        path = self._path()
        return json.loads(path.read_text()) if path.exists() else {}

    def _save(self, store: Store) -> None:
        self._path().write_text(json.dumps(store, indent=1))

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(service, {}).get(username)

    def set_password(self, service: str, username: str, password: str) -> None:
        store = self._load()
        store.setdefault(service, {})[username] = password
        self._save(store)

    def delete_password(self, service: str, username: str) -> None:
        store = self._load()
        if store.get(service, {}).pop(username, None) is None:
            raise PasswordDeleteError(f"no password for {username} at {service}")
        self._save(store)

    def get_credential(self, service: str, username: str | None) -> Credential | None:
        """Without a username (``keyring --mode creds get SERVICE``, uv's lookup when the index
        URL names no user): the service's one stored credential, as desktop keyrings answer."""
        if username is not None:
            return super().get_credential(service, username)
        users = self._load().get(service, {})
        if len(users) != 1:
            return None
        ((user, password),) = users.items()
        return SimpleCredential(user, password)
