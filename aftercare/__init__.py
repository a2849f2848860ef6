"""Aftercare: the API behind continuing care after an intensive outpatient program."""

__version__ = "0.1.0"
