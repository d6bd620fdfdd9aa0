"""Real PostgreSQL and S3 (SeaweedFS) servers for these tests (see ``tests/services.py``)."""

from tests.services import database_url, postgres_server, seaweedfs, storage_url

__all__ = ["database_url", "postgres_server", "seaweedfs", "storage_url"]
