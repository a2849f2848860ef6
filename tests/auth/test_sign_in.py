from tests.conftest import PASSWORD, Program


async def test_sign_in_returns_tokens_and_me(program: Program) -> None:
    supervisor = await program.supervisor()
    me = await program.client.get("/v1/me", headers=supervisor.headers)
    assert me.status_code == 200
    assert me.json()["role"] == "supervisor"
    assert me.json()["email"] == supervisor.email


async def test_wrong_password_is_401_problem(program: Program) -> None:
    supervisor = await program.supervisor()
    response = await program.client.post(
        "/v1/auth/token", json={"email": supervisor.email, "password": "nope-" + PASSWORD}
    )
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
