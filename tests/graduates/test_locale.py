"""A graduate's language: chosen by staff at creation, changed by the graduate, shown on the profile
and in ``GET /v1/me``, refused when unknown; and the language problems are written in (the signed-in
graduate's own, ``Accept-Language`` before sign-in, English for staff), field names untranslated."""

from __future__ import annotations

from tests.conftest import Program


async def test_staff_create_a_spanish_speaking_graduate_and_english_is_the_default(program: Program) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)

    spanish = await program.graduate(counselor, locale="es")
    english = await program.graduate(counselor)

    for account, locale in ((spanish, "es"), (english, "en")):
        profile = await program.client.get(f"/v1/graduates/{account.graduate_id}", headers=counselor.headers)
        assert profile.status_code == 200, profile.text
        assert profile.json()["locale"] == locale
        me = await program.client.get("/v1/me", headers=account.headers)
        assert me.json()["locale"] == locale
    staff_me = await program.client.get("/v1/me", headers=counselor.headers)
    assert staff_me.json()["locale"] is None


async def test_the_graduate_changes_their_language(program: Program) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    graduate = await program.graduate(counselor)

    response = await program.client.patch(
        f"/v1/graduates/{graduate.graduate_id}", headers=graduate.headers, json={"locale": "es"}
    )

    assert response.status_code == 200, response.text
    assert response.json()["locale"] == "es"
    me = await program.client.get("/v1/me", headers=graduate.headers)
    assert me.json()["locale"] == "es"
    seen_by_staff = await program.client.get(
        f"/v1/graduates/{graduate.graduate_id}", headers=counselor.headers
    )
    assert seen_by_staff.json()["locale"] == "es"


async def test_an_unknown_locale_is_a_422_naming_locale(program: Program) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    graduate = await program.graduate(counselor)

    created = await program.client.post(
        "/v1/graduates",
        headers=counselor.headers,
        json={"display_name": "Grad", "timezone": "America/Chicago", "locale": "fr"},
    )
    patched = await program.client.patch(
        f"/v1/graduates/{graduate.graduate_id}", headers=graduate.headers, json={"locale": "es-MX"}
    )

    for response in (created, patched):
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert [error["field"] for error in response.json()["errors"]] == ["locale"]
    me = await program.client.get("/v1/me", headers=graduate.headers)
    assert me.json()["locale"] == "en"


async def test_a_spanish_graduate_reads_problems_in_spanish_with_field_names_in_english(
    program: Program,
) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    graduate = await program.graduate(counselor, locale="es")

    # A check-in time inside quiet hours (the service's own check), and a wrong type (msgspec's).
    conflict = await program.client.patch(
        f"/v1/graduates/{graduate.graduate_id}", headers=graduate.headers, json={"checkin_time": "23:00"}
    )
    wrong_type = await program.client.post(
        f"/v1/graduates/{graduate.graduate_id}/checkins",
        headers=graduate.headers,
        json={"client_id": "not-a-uuid"},
    )

    assert conflict.status_code == 422, conflict.text
    body = conflict.json()
    assert body["type"] == "/problems/validation"
    assert body["title"] == "Algunos datos no son válidos"
    message = "la hora del registro diario cae dentro de las horas de silencio"
    assert body["errors"] == [
        {"field": "checkin_time", "message": message},
        {"field": "quiet_hours", "message": message},
    ]
    assert body["detail"] == f"checkin_time: {message}; quiet_hours: {message}"
    assert wrong_type.status_code == 422, wrong_type.text
    assert wrong_type.json()["title"] == "Algunos datos no son válidos"
    [error] = wrong_type.json()["errors"]
    assert error == {"field": "client_id", "message": "UUID no válido"}


async def test_a_spanish_graduates_other_problems_are_in_spanish_too(program: Program) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    graduate = await program.graduate(counselor, locale="es")

    refused = await program.client.patch(
        f"/v1/graduates/{graduate.graduate_id}", headers=graduate.headers, json={"status": "discharged"}
    )
    missing = await program.client.get(f"/v1/graduates/{graduate.graduate_id}/plan", headers=graduate.headers)

    assert refused.status_code == 403, refused.text
    assert refused.json()["title"] == "No permitido"
    assert refused.json()["detail"] == "una cuenta con el rol graduate no puede cambiar: status"
    assert missing.status_code == 404, missing.text
    assert (missing.json()["title"], missing.json()["detail"]) == (
        "No encontrado",
        "todavía no hay un plan de seguimiento",
    )


async def test_before_sign_in_accept_language_chooses_and_staff_read_english(program: Program) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)

    wrong = {"email": counselor.email, "password": "not-the-password"}
    in_spanish = await program.client.post(
        "/v1/auth/token", json=wrong, headers={"Accept-Language": "es-MX,es;q=0.9"}
    )
    in_english = await program.client.post("/v1/auth/token", json=wrong)
    staff_problem = await program.client.post(
        "/v1/graduates",
        headers={**counselor.headers, "Accept-Language": "es"},
        json={"display_name": "Grad", "timezone": "Mars/Olympus"},
    )

    assert in_spanish.status_code == 401, in_spanish.text
    assert (in_spanish.json()["title"], in_spanish.json()["detail"]) == (
        "No has iniciado sesión",
        "el correo o la contraseña no son correctos",
    )
    assert (in_english.json()["title"], in_english.json()["detail"]) == (
        "Not authenticated",
        "wrong email or password",
    )
    assert staff_problem.status_code == 422, staff_problem.text
    assert staff_problem.json()["title"] == "Validation failed"
    assert staff_problem.json()["errors"] == [
        {"field": "timezone", "message": "unknown IANA time zone 'Mars/Olympus'"}
    ]


async def test_the_reminders_list_shows_a_spanish_graduate_what_their_phone_will_show(
    program: Program,
) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    graduate = await program.graduate(counselor, locale="es")

    response = await program.client.get(
        f"/v1/graduates/{graduate.graduate_id}/reminders", headers=graduate.headers
    )

    assert response.status_code == 200, response.text
    titles = {item["kind"]: item["title"] for item in response.json()["items"]}
    assert titles == {
        "checkin_prompt": "Es hora de tu registro diario",
        "checkin_nudge": "Tu registro de hoy sigue abierto",
    }
