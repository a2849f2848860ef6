"""The message catalogs: every marked message has Spanish, with the same placeholders, and the
compiled catalog the service reads is the source's; and how text is rendered and a language chosen."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

import aftercare
from aftercare.i18n import (
    CATALOG_DIR,
    DEFAULT_LOCALE,
    DOMAIN,
    LOCALES,
    MARKERS,
    _,
    negotiate,
    plural,
    translate,
)

TRANSLATED = [locale for locale in LOCALES if locale != DEFAULT_LOCALE]
# printf-style placeholders, named (%(name)s) or not (%s, %d); %% is a literal percent sign.
_PLACEHOLDER = re.compile(r"%(?:\((?P<name>[^)]+)\))?[-#0 +]*\d*(?:\.\d+)?(?P<kind>[a-zA-Z%])")


def placeholders(text: str) -> list[str]:
    return sorted(
        f"{match.group('name') or ''}:{match.group('kind')}"
        for match in _PLACEHOLDER.finditer(text)
        if match.group("kind") != "%"
    )


def source_catalog(locale: str) -> Catalog:
    with (CATALOG_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as source:
        return read_po(source, locale=locale)


def marked_messages() -> set[str | tuple[str, ...]]:
    """Every message the package marks, extracted from its source as ``scripts/catalogs`` does."""
    package = Path(aftercare.__file__).parent
    return {
        message
        for _filename, _lineno, message, _comments, _context in extract_from_dir(
            str(package), method_map=[("**.py", "python")], keywords=MARKERS
        )
    }


def forms(message_id: str | tuple[str, ...]) -> tuple[str, ...]:
    return message_id if isinstance(message_id, tuple) else (message_id,)


def forms_of(entry: Message | None) -> tuple[str, ...]:
    """A compiled entry's translation as ``forms`` gives a source one (read_mo gives a plural's
    forms as a list); none for a message the compiled catalog lacks."""
    if entry is None:
        return ()
    return tuple(entry.string) if isinstance(entry.string, list | tuple) else (entry.string,)


def test_the_source_marks_messages_where_they_are_written() -> None:
    found = marked_messages()
    # One of each kind: a push title, a plural, a problem title, a crisis text.
    assert "Time for your daily check-in" in found
    assert ("%(count)d hour", "%(count)d hours") in found
    assert "Validation failed" in found
    assert "Reach out to someone you trust and stay with them." in found


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_marked_message_has_a_translation(locale: str) -> None:
    catalog = source_catalog(locale)
    missing = [
        message
        for message in sorted(marked_messages(), key=str)
        if (entry := catalog.get(message)) is None or entry.fuzzy or not all(forms(entry.string))
    ]
    assert not missing, f"no {locale} translation (run bash scripts/catalogs, then write it): {missing}"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_translation_keeps_the_placeholders_of_its_message(locale: str) -> None:
    catalog = source_catalog(locale)
    wrong = []
    for entry in catalog:
        if not entry.id:
            continue  # the header
        assert all(forms(entry.string)), f"{entry.id!r} has an empty {locale} translation"
        expected = placeholders(forms(entry.id)[-1])
        # Every plural form may use the count; each must keep every other placeholder.
        for translation in forms(entry.string):
            if placeholders(translation) != expected:
                wrong.append((entry.id, translation))
    assert not wrong, f"placeholders differ from the English: {wrong}"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_no_translation_is_left_for_a_message_the_source_no_longer_marks(locale: str) -> None:
    marked = marked_messages()
    stale = [entry.id for entry in source_catalog(locale) if entry.id and entry.id not in marked]
    assert not stale, f"in the {locale} catalog but marked nowhere (run bash scripts/catalogs): {stale}"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_the_compiled_catalog_is_the_source(locale: str) -> None:
    with (CATALOG_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.mo").open("rb") as compiled:
        loaded = read_mo(compiled)
    source = source_catalog(locale)
    differing = [
        entry.id for entry in source if entry.id and forms_of(loaded.get(entry.id)) != forms(entry.string)
    ]
    assert not differing, f"the .mo is older than the .po (run bash scripts/bootstrap): {differing}"


def test_marked_text_reads_as_english_and_renders_in_spanish() -> None:
    lead = plural("%(count)d hour", "%(count)d hours", 2)
    title = _("Appointment in %(lead)s", lead=lead)

    assert title == "Appointment in 2 hours"
    assert translate(title, "en") == "Appointment in 2 hours"
    assert translate(title, "es") == "Tu cita empieza en 2 horas"
    assert translate(plural("%(count)d minute", "%(count)d minutes", 1), "es") == "1 minuto"
    # Text nobody marked is left as it is, in any language.
    assert translate("Call Sam", "es") == "Call Sam"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("", "en"),
        ("es", "es"),
        ("es-MX", "es"),
        ("es-419,es;q=0.9,en;q=0.8", "es"),
        ("en-US,en;q=0.9,es;q=0.8", "en"),
        ("fr-FR,fr;q=0.9,es;q=0.5", "es"),
        ("fr, de", "en"),
        ("en;q=0.2, es;q=0.7", "es"),
        ("es;q=0", "en"),
        ("*", "en"),
        ("es;q=banana, en", "en"),
        (";;;,,,", "en"),
    ],
)
def test_accept_language_chooses_the_preferred_supported_locale(header: str | None, expected: str) -> None:
    assert negotiate(header) == expected
