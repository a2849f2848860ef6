"""The one build step ``pyproject.toml`` cannot declare: compiling the message catalogs.

Every build, wheel or editable (``pip install .``, ``pip install -e .``), compiles each
``aftercare/locale/<locale>/LC_MESSAGES/aftercare.po`` into the ``.mo`` that ``aftercare.i18n``
reads, beside its source, before the package's files are collected; the ``.mo`` files are never
committed (``.gitignore``). Babel is a build requirement (``[build-system] requires``)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from setuptools import setup
from setuptools.command.build_py import build_py

LOCALE_DIR = Path(__file__).parent / "aftercare" / "locale"


def compile_catalogs() -> None:
    for source in sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po")):
        with source.open("rb") as po:
            catalog = read_po(po, locale=source.parent.parent.name)
        with source.with_suffix(".mo").open("wb") as mo:
            # Fuzzy entries (a guess left by an update) are not translations yet: English shows.
            write_mo(mo, catalog, use_fuzzy=False)


class BuildWithCatalogs(build_py):
    def run(self) -> None:
        compile_catalogs()  # first: the package data collected below includes the .mo files
        super().run()


setup(cmdclass={"build_py": BuildWithCatalogs})
