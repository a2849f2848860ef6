"""Alembic's script directory (``env.py``, the revision template, ``versions/``), inside the package so
an installed Aftercare can migrate; ``aftercare.db.migrate`` points Alembic here."""
