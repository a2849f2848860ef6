"""Crisis texts in the graduate's language: "help now" and a check-in's safety answer give a Spanish
reader the crisis line with its Spanish option (988, then 2; texts: AYUDA), and the program can set
its own line per language."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from tests.checkins.conftest import checkin_body
from tests.conftest import Account, Program

TODAY = date(2026, 11, 24)  # the local day at tests.conftest.T0 in America/Chicago


async def spanish_graduate(program: Program) -> tuple[Account, Account]:
    """A supervisor and a Spanish-speaking graduate whose plan has no crisis plan of its own."""
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    return supervisor, await program.graduate(counselor, locale="es")


async def ask_for_help(program: Program, graduate: Account) -> dict[str, Any]:
    response = await program.client.post(
        f"/v1/graduates/{graduate.graduate_id}/help",
        headers=graduate.headers,
        json={"client_id": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_help_now_answers_in_spanish_with_988_and_option_2(program: Program) -> None:
    _supervisor, graduate = await spanish_graduate(program)

    body = await ask_for_help(program, graduate)

    assert body["crisis"]["crisis_line"] == "988"
    assert body["crisis"]["steps"] == [
        "Comunícate ahora con tu línea de crisis: llama al 988 y marca el 2 para hablar con alguien en "
        "español, o envía AYUDA por mensaje de texto al 988. Si estás en peligro, llama a tu número "
        "local de emergencias.",
        "Busca a alguien de confianza y quédate con esa persona.",
    ]
    assert body["message"] == (
        "Ya avisamos a tu consejero o consejera. Aftercare no es un servicio de emergencias: si estás "
        "en peligro o piensas en hacerte daño, no esperes: llama al 988 y marca el 2 para hablar con "
        "alguien en español, o envía AYUDA por mensaje de texto al 988. También puedes llamar a tu "
        "número local de emergencias."
    )


async def test_a_safety_answer_carries_the_spanish_crisis_plan(program: Program) -> None:
    _supervisor, graduate = await spanish_graduate(program)

    response = await program.client.post(
        f"/v1/graduates/{graduate.graduate_id}/checkins",
        headers=graduate.headers,
        json=checkin_body(TODAY, safety_concern=True),
    )

    assert response.status_code == 201, response.text
    crisis = response.json()["support"]["crisis"]
    assert crisis["crisis_line"] == "988"
    assert "llama al 988 y marca el 2 para hablar con alguien en español" in crisis["steps"][0]


async def test_an_english_graduate_gets_988_without_an_option(program: Program) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    graduate = await program.graduate(counselor)

    body = await ask_for_help(program, graduate)

    assert body["crisis"] == {
        "steps": [
            "Reach your crisis line now: call 988, or text 988. If you are in danger, call your local "
            "emergency number.",
            "Reach out to someone you trust and stay with them.",
        ],
        "crisis_line": "988",
    }


async def test_the_program_sets_its_crisis_line_per_language(program: Program) -> None:
    supervisor, graduate = await spanish_graduate(program)
    before = (await program.client.get("/v1/program/rules", headers=supervisor.headers)).json()
    changed = {
        **before,
        "program": {**before["program"], "crisis_lines": {"es": {"number": "1-800-555-0100"}}},
    }
    put = await program.client.put(
        "/v1/program/rules", headers={**supervisor.headers, "If-Match": "*"}, json=changed
    )
    assert put.status_code == 200, put.text
    try:
        body = await ask_for_help(program, graduate)
    finally:
        # The rules row is the whole session's: put it back as it was.
        restored = await program.client.put(
            "/v1/program/rules", headers={**supervisor.headers, "If-Match": "*"}, json=before
        )
        assert restored.status_code == 200, restored.text

    assert put.json()["program"]["crisis_lines"] == {"en": {}, "es": {"number": "1-800-555-0100"}}
    assert body["crisis"]["crisis_line"] == "1-800-555-0100"
    assert body["crisis"]["steps"][0] == (
        "Comunícate ahora con tu línea de crisis: llama al 1-800-555-0100, o envía un mensaje de texto "
        "al 1-800-555-0100. Si estás en peligro, llama a tu número local de emergencias."
    )


async def test_an_unknown_language_in_the_crisis_lines_is_a_422(program: Program) -> None:
    supervisor = await program.supervisor()
    before = (await program.client.get("/v1/program/rules", headers=supervisor.headers)).json()
    changed = {**before, "program": {**before["program"], "crisis_lines": {"fr": {"number": "3114"}}}}

    response = await program.client.put(
        "/v1/program/rules", headers={**supervisor.headers, "If-Match": "*"}, json=changed
    )

    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["field"].startswith("program.crisis_lines")
