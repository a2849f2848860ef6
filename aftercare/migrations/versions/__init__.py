"""The revisions, one module each; Alembic loads them by path and skips this file."""
