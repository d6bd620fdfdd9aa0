"""Alembic migrations of the catalogue schema, for SQLite and PostgreSQL alike."""

# The newest revision in versions/; a test checks it against Alembic's own view.
SCHEMA_HEAD = "0027"
