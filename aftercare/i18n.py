"""Text a graduate reads, in their language: English source strings are the gettext message ids, and
every other language comes from a compiled catalog (``aftercare/locale/<locale>/LC_MESSAGES``).

Marking a message. ``_("Time for your daily check-in")`` or, with values, ``_("unknown trigger id
%(id)s", id=value)``; a count that changes the words, ``plural("%(count)d hour", "%(count)d hours",
hours)``. Either returns a ``Text``: a ``str`` holding the English (so logs, tests and staff see
plain English, and code that joins or formats strings keeps working) that also remembers its message
id and values, so the edge that knows the reader renders it again with ``translate(text, locale)``.
A value may itself be a ``Text`` (``_("Meeting in %(lead)s", lead=plural(...))``): it is translated
too. A plain ``str`` is never translated: only marked text reaches a catalog.

Adding or changing a message (README, "Languages"):

1. mark it as above, where the text is written;
2. ``bash scripts/catalogs`` adds it to ``aftercare/locale/es/LC_MESSAGES/aftercare.po`` with an
   empty ``msgstr``; write the Spanish there (tú, warm and plain; keep every ``%(name)s``);
3. ``bash scripts/bootstrap`` (``pip install -e .``) compiles the ``.po`` into the ``.mo`` read here.

``tests/test_i18n.py`` fails while a marked message has no Spanish, or its Spanish drops or adds a
placeholder, or the compiled catalog is older than its source.

The ``.mo`` files are built, never committed: ``setup.py`` compiles them with Babel whenever the
package is built or installed (editable installs included). A missing one stops the import with a
message saying so, rather than answering a Spanish reader in English without a word.
"""

from __future__ import annotations

import gettext
import re
from pathlib import Path
from typing import Any, Literal, TypeGuard

Locale = Literal["en", "es"]
LOCALES: tuple[Locale, ...] = ("en", "es")
DEFAULT_LOCALE: Locale = "en"
DOMAIN = "aftercare"
CATALOG_DIR = Path(__file__).parent / "locale"
# How messages are marked, for Babel's extractor (``scripts/catalogs`` and ``tests/test_i18n.py``):
# the function name and the positions of its message arguments.
MARKERS: dict[str, tuple[int, ...] | None] = {"_": None, "plural": (1, 2)}


class Text(str):
    """Marked English text that can be rendered in another language (``translate``)."""

    __slots__ = ("msgid", "msgid_plural", "number", "params")

    msgid: str
    msgid_plural: str | None
    number: int
    """What chooses between the singular and the plural forms."""
    params: dict[str, Any]

    def __new__(cls, msgid: str, msgid_plural: str | None = None, number: int = 1, /, **params: Any) -> Text:
        english = msgid if msgid_plural is None or number == 1 else msgid_plural
        self = super().__new__(cls, english % params if params else english)
        self.msgid, self.msgid_plural, self.number, self.params = msgid, msgid_plural, number, params
        return self


def _(message: str, /, **params: Any) -> Text:
    """A message to translate, formatted with ``params`` (``%(name)s`` placeholders)."""
    return Text(message, **params)


def plural(singular: str, plural_: str, count: int, /, **params: Any) -> Text:
    """A message whose words depend on ``count`` (also given to it as ``%(count)d``)."""
    return Text(singular, plural_, count, count=count, **params)


def translate(text: str, locale: Locale) -> str:
    """``text`` in ``locale``, as a plain ``str``; unmarked text as it is."""
    if not isinstance(text, Text):
        return str(text)
    catalog = _CATALOGS.get(locale)
    if catalog is None:
        return str(text)
    if text.msgid_plural is None:
        pattern = catalog.gettext(text.msgid)
    else:
        pattern = catalog.ngettext(text.msgid, text.msgid_plural, text.number)
    if not text.params:
        return pattern
    return pattern % {
        name: translate(value, locale) if isinstance(value, Text) else value
        for name, value in text.params.items()
    }


def is_locale(value: object) -> TypeGuard[Locale]:
    return value in LOCALES


def locale_of(value: str) -> Locale:
    """A stored locale as the type; one that is not ours fails loudly instead of travelling on."""
    if not is_locale(value):
        raise ValueError(f"not a supported locale: {value!r}")
    return value


# ``es-MX;q=0.8``: a language range and its weight (RFC 9110, section 12.5.4).
_RANGE = re.compile(
    r"^\s*(?P<tag>[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*(?P<q>[0-9.]+))?\s*$"
)


def negotiate(accept_language: str | None) -> Locale:
    """The supported locale a reader's ``Accept-Language`` prefers (``es-MX`` is ``es``); English when
    it names none of ours, or cannot be read."""
    best: tuple[float, int] | None = None
    chosen: Locale = DEFAULT_LOCALE
    for position, part in enumerate((accept_language or "").split(",")[:32]):
        match = _RANGE.match(part)
        if match is None:
            continue
        try:
            weight = float(match.group("q")) if match.group("q") else 1.0
        except ValueError:
            continue
        language = match.group("tag").split("-", 1)[0].lower()
        if weight <= 0 or not is_locale(language):
            continue
        # Highest weight wins; among equal weights the one listed first.
        if best is None or (weight, -position) > best:
            best, chosen = (weight, -position), language
    return chosen


def _load() -> dict[Locale, gettext.GNUTranslations]:
    catalogs: dict[Locale, gettext.GNUTranslations] = {}
    for locale in LOCALES:
        if locale == DEFAULT_LOCALE:
            continue  # the message ids are the English
        path = CATALOG_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"
        if not path.is_file():
            raise RuntimeError(
                f"the compiled message catalog {path} is missing: build or install the package "
                "(bash scripts/bootstrap runs pip install -e ., which compiles it)"
            )
        with path.open("rb") as compiled:
            catalogs[locale] = gettext.GNUTranslations(compiled)
    return catalogs


_CATALOGS = _load()
