from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import jwt as vapid_jwt
from py_vapid.utils import b64urldecode, b64urlencode

from aftercare.push.vapid import (
    KEY_FILE_NAME,
    VapidKeys,
    VapidSigner,
    generate_keys,
    load_or_create,
    validate_subject,
)

T0 = datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
FCM = "https://fcm.googleapis.com"
MOZILLA = "https://updates.push.services.mozilla.com"


def _split_header(header: str) -> tuple[str, str]:
    scheme, _, params = header.partition(" ")
    assert scheme == "vapid"
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    return fields["t"], fields["k"]


def test_public_key_is_the_uncompressed_point_of_the_private_key() -> None:
    keys = generate_keys()
    raw = b64urldecode(keys.public_key_b64.encode())
    assert "=" not in keys.public_key_b64
    assert len(raw) == 65 and raw[0] == 0x04
    point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    assert point.public_numbers() == keys.private_key.public_key().public_numbers()


def test_private_key_round_trips_through_pem_raw_and_der() -> None:
    keys = generate_keys()
    der = keys.private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    for text in (keys.private_pem().decode(), keys.private_raw_b64(), b64urlencode(der)):
        assert VapidKeys.from_text(text).public_key_b64 == keys.public_key_b64


def test_a_key_on_another_curve_is_refused() -> None:
    other = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError, match="P-256"):
        VapidKeys.from_text(other.decode())


def test_load_or_create_writes_a_private_file_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = load_or_create(data_dir, None)
    path = data_dir / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create(data_dir, None).public_key_b64 == first.public_key_b64
    assert [p.name for p in data_dir.iterdir()] == [KEY_FILE_NAME]


def test_configured_key_wins_and_writes_nothing(tmp_path: Path) -> None:
    configured = generate_keys()
    keys = load_or_create(tmp_path, configured.private_raw_b64())
    assert keys.public_key_b64 == configured.public_key_b64
    assert not (tmp_path / KEY_FILE_NAME).exists()


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(lambda _: load_or_create(tmp_path, None).public_key_b64, range(16)))
    assert len(set(keys)) == 1
    assert VapidKeys.from_text((tmp_path / KEY_FILE_NAME).read_text()).public_key_b64 == keys[0]


@pytest.mark.parametrize("subject", ["mailto:ops@aftercare.example", "https://aftercare.example/contact"])
def test_subject_accepts_mailto_and_https(subject: str) -> None:
    assert validate_subject(subject) == subject


@pytest.mark.parametrize(
    "subject", ["ops@aftercare.example", "mailto:", "mailto:ops", "http://aftercare.example", "https://", ""]
)
def test_subject_refuses_anything_else(subject: str) -> None:
    with pytest.raises(ValueError, match="AFTERCARE_VAPID_SUBJECT"):
        VapidSigner(generate_keys(), subject)


def test_header_carries_a_jwt_signed_for_the_origin() -> None:
    keys = generate_keys()
    token, k = _split_header(VapidSigner(keys, "mailto:ops@aftercare.example").authorization_header(FCM, T0))
    assert k == keys.public_key_b64
    claims = vapid_jwt.decode(token, k)
    assert claims == {
        "aud": FCM,
        "exp": int((T0 + timedelta(hours=12)).timestamp()),
        "sub": "mailto:ops@aftercare.example",
    }


def test_token_is_reused_until_an_hour_before_exp_then_renewed() -> None:
    signer = VapidSigner(generate_keys(), "mailto:ops@aftercare.example")
    first = signer.authorization_header(FCM, T0)
    assert signer.authorization_header(FCM, T0 + timedelta(hours=10, minutes=59)) == first
    renewed = signer.authorization_header(FCM, T0 + timedelta(hours=11))
    assert renewed != first
    claims = vapid_jwt.decode(*_split_header(renewed))
    assert claims["exp"] == int((T0 + timedelta(hours=23)).timestamp())
    assert signer.authorization_header(FCM, T0 + timedelta(hours=12)) == renewed


def test_each_origin_gets_its_own_token() -> None:
    signer = VapidSigner(generate_keys(), "mailto:ops@aftercare.example")
    fcm = signer.authorization_header(FCM, T0)
    mozilla = signer.authorization_header(MOZILLA, T0)
    assert vapid_jwt.decode(*_split_header(fcm))["aud"] == FCM
    assert vapid_jwt.decode(*_split_header(mozilla))["aud"] == MOZILLA
    assert signer.authorization_header(FCM, T0 + timedelta(minutes=5)) == fcm


def test_a_clock_that_went_back_gets_a_fresh_token() -> None:
    signer = VapidSigner(generate_keys(), "mailto:ops@aftercare.example")
    later = signer.authorization_header(FCM, T0 + timedelta(hours=13))
    earlier = signer.authorization_header(FCM, T0)
    assert earlier != later
    assert vapid_jwt.decode(*_split_header(earlier))["exp"] == int((T0 + timedelta(hours=12)).timestamp())
