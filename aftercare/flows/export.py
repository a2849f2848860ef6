"""A graduate's copy of everything stored about them (``GET /v1/me/export``): one JSON document,
written section by section (``flows/personal_data.py::SECTIONS``) as it is read, a page of rows per
short read, so neither the server nor the database holds the whole of it at once.

Audited before the first byte is sent (the graduate exported their data), in its own transaction.

The document: ``{"format", "exported_at", "graduate_id", <section>: object or [rows], ...}``, the
sections in ``SECTIONS``' order. Left out: what is machinery rather than the person's data (token and
code hashes, reminder schedules, who among staff each alert was routed to, idempotency fingerprints
and stored responses, the engine's running aggregates) and the staff members' ids in the access log;
staff's notes about the graduate (outreach, alert resolutions) are in, as a data-access request
would return them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from aftercare.audit import service as audit
from aftercare.auth.principal import Principal
from aftercare.flows.personal_data import SECTIONS, Subject, subject_of
from aftercare.graduates.service import lock_graduate

FORMAT = "aftercare-export/1"
_encode = msgspec.json.Encoder().encode


async def start_export(session: AsyncSession, *, actor: Principal, now: datetime) -> Subject:
    """Whose data the caller's export holds, once the export is recorded; 404 for an erased record."""
    assert actor.graduate_id is not None  # Access.GRADUATE: a graduate's token names their record
    async with session.begin():
        graduate = await lock_graduate(session, actor.graduate_id)  # 404 once erased
        subject = await subject_of(session, graduate)
        await audit.record(
            session, actor=actor, action="export", resource="graduate", graduate_id=graduate.id, now=now
        )
    # Committed.
    return subject


async def export_document(engine: AsyncEngine, subject: Subject, *, now: datetime) -> AsyncIterator[bytes]:
    """The document's bytes, a section's page at a time."""
    yield b'{"format":' + _encode(FORMAT) + b',"exported_at":' + _encode(now)
    yield b',"graduate_id":' + _encode(subject.graduate_id)
    for section in SECTIONS:
        if section.export is None:
            continue
        yield b"," + _encode(section.name) + b":"
        if section.export.single:
            found = [item async for page in section.export.pages(engine, subject) for item in page]
            yield _encode(found[0] if found else None)
            continue
        opening = b"["
        async for page in section.export.pages(engine, subject):
            yield opening + b",".join(_encode(item) for item in page)
            opening = b","
        yield b"[]" if opening == b"[" else b"]"
    yield b"}\n"
