"""A medication reminder carries its dose to the device (decrypted by the loopback push service) and
into the inbox, and that dose is what ``POST .../doses`` takes."""

from __future__ import annotations

import uuid
from datetime import timedelta

from aftercare.auth.principal import Principal
from aftercare.clock import FixedClock
from aftercare.doses.schemas import DoseCreate
from aftercare.flows.doses import record_dose
from aftercare.flows.sweep import sweep
from aftercare.push.service import list_notifications
from aftercare.push.webpush import PushSender
from tests.doses.conftest import PLAN, utc
from tests.push.conftest import StartPushService
from tests.scheduling.conftest import Factory, add_graduate, put_plan, subscribe

NOON = utc(2026, 11, 24, 18)  # 12:00 CST
DOSE_AT = utc(2026, 11, 25, 14)  # 08:00 CST the next morning


async def test_a_medication_reminder_carries_its_dose(
    fresh: Factory, start_push_service: StartPushService, push_sender: PushSender
) -> None:
    push_service = await start_push_service(FixedClock(DOSE_AT))
    graduate = await add_graduate(fresh, now=NOON)
    assert graduate.user_id is not None
    await put_plan(fresh, graduate.id, PLAN, now=NOON)
    await subscribe(fresh, push_service, graduate, now=NOON)

    report = await sweep(fresh, now=DOSE_AT, worker_id="w1", sender=push_sender)

    assert report.delivery is not None and report.delivery.delivered == 1
    [push] = await push_service.wait_for(1)
    payload = push.json()
    assert payload["type"] == "medication_reminder"
    assert (payload["medication_id"], payload["scheduled_for"]) == ("med-am", "2026-11-25T14:00:00Z")
    assert "Naltrexone" not in str(payload) and "50 mg" not in str(payload)
    async with fresh() as session:
        inbox = await list_notifications(
            session, Principal(user_id=graduate.user_id, role="graduate"), limit=10, cursor=None
        )
    [item] = [i for i in inbox.items if i.kind == "medication_reminder"]
    assert (item.medication_id, item.scheduled_for) == ("med-am", DOSE_AT)
    assert all(i.medication_id is None and i.scheduled_for is None for i in inbox.items if i is not item)

    # The app answers the reminder with the dose it carried.
    principal = Principal(user_id=graduate.user_id, role="graduate", graduate_id=graduate.id)
    async with fresh() as session:
        dose, replayed = await record_dose(
            session,
            graduate_id=graduate.id,
            data=DoseCreate(
                client_id=uuid.uuid4(),
                medication_id=payload["medication_id"],
                scheduled_for=DOSE_AT,
                status="taken",
            ),
            actor=principal,
            now=DOSE_AT + timedelta(minutes=2),
        )
    assert not replayed and dose.local_date.isoformat() == "2026-11-25"
