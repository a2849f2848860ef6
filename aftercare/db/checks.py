"""CHECK constraints that hold a string column to the values of a ``Literal`` type.

The type is where the values are written; the constraint is built from it, so mypy and the database
refuse the same rows, including those written by Core statements and by hand, which mypy never sees.
A new value is a change to the type plus a migration that replaces the constraint.
"""

from __future__ import annotations

from typing import get_args

from sqlalchemy import CheckConstraint, column


def one_of(name: str, literal: object) -> CheckConstraint:
    """``name IN (...)`` over the values of ``literal``, for a model's ``__table_args__``. Named after
    the column, which the naming convention (``db/base.py``) turns into ``ck_<table>_<column>``."""
    values = get_args(literal)
    if not values or not all(isinstance(value, str) for value in values):
        raise TypeError(f"{literal!r} is not a Literal of strings")
    return CheckConstraint(column(name).in_(values), name=name)
