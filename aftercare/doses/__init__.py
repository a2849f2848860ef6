"""Doses: a graduate's record of each scheduled medication dose, taken or skipped."""
