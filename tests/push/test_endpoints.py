from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from aftercare.errors import FieldError
from aftercare.push.endpoints import DEFAULT_PUSH_ORIGINS, parse_allowed_origins, validate_subscription


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _point(fmt: serialization.PublicFormat) -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(serialization.Encoding.X962, fmt)


P256DH = _b64(_point(serialization.PublicFormat.UncompressedPoint))
AUTH = _b64(os.urandom(16))
FCM_ENDPOINT = "https://fcm.googleapis.com/fcm/send/dQw4w9WgXcQ:APA91bH"


def _endpoint_errors(endpoint: str, origins: tuple[str, ...] = DEFAULT_PUSH_ORIGINS) -> list[str]:
    return [
        e.message for e in validate_subscription(endpoint, P256DH, AUTH, origins) if e.field == "endpoint"
    ]


def test_unset_means_the_major_push_services() -> None:
    assert parse_allowed_origins(None) == DEFAULT_PUSH_ORIGINS
    assert parse_allowed_origins("  ") == DEFAULT_PUSH_ORIGINS


def test_defaults_token_adds_to_the_built_in_list() -> None:
    origins = parse_allowed_origins("defaults, HTTP://127.0.0.1:8765/ ,https://push.example.org")
    assert origins == (*DEFAULT_PUSH_ORIGINS, "http://127.0.0.1:8765", "https://push.example.org")


def test_a_listed_origin_replaces_the_defaults() -> None:
    assert parse_allowed_origins("https://push.example.org") == ("https://push.example.org",)


@pytest.mark.parametrize(
    "bad",
    ["ftp://push.example.org", "https://push.example.org/path", "push.example.org", "https://a.org:99999"],
)
def test_malformed_origin_is_a_startup_error(bad: str) -> None:
    with pytest.raises(ValueError, match="push origin"):
        parse_allowed_origins(f"defaults,{bad}")


@pytest.mark.parametrize(
    "endpoint",
    [
        FCM_ENDPOINT,
        "https://fcm.googleapis.com:443/fcm/send/x",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
        "https://web.push.apple.com/QGuQyavXutnMZ",
        "https://wns2-by3p.notify.windows.com/w/?token=BQYAAAB",
    ],
)
def test_real_push_service_endpoints_are_accepted(endpoint: str) -> None:
    assert validate_subscription(endpoint, P256DH, AUTH, DEFAULT_PUSH_ORIGINS) == []


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://10.0.0.1/push",
        "https://169.254.169.254/latest/meta-data",
        "https://localhost/push",
        "https://[::1]/push",
        "https://notify.windows.com/w",  # the wildcard covers subdomains only
        "https://evilnotify.windows.com/w",
        "https://notify.windows.com.evil.example/w",
        "https://fcm.googleapis.com.evil.example/x",
        "https://fcm.googleapis.com@evil.example/x",  # the host here is evil.example
        "https://fcm.googleapis.com:8443/fcm/send/x",
    ],
)
def test_hosts_off_the_allow_list_are_refused(endpoint: str) -> None:
    assert _endpoint_errors(endpoint)


def test_loopback_http_only_when_its_exact_origin_is_listed() -> None:
    listed = parse_allowed_origins("defaults,http://127.0.0.1:8765")
    assert "https" in _endpoint_errors("http://127.0.0.1:8765/push/a")[0]
    assert _endpoint_errors("http://127.0.0.1:8765/push/a", listed) == []
    assert _endpoint_errors("http://127.0.0.1:8766/push/a", listed)
    assert _endpoint_errors("https://127.0.0.1:8765/push/a", listed)
    assert _endpoint_errors("http://localhost:8765/push/a", listed)


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("https://user:pw@fcm.googleapis.com/x", "user information"),
        ("https://fcm.googleapis.com/x\n", "control"),
        ("https://fcm.googleapis.com/\tx", "control"),
        ("https://fcm.googleapis.com/ x", "spaces"),
        ("https://fcm.googleapis.com/é", "non-ASCII"),
        ("https://fcm.googleapis.com:99999/x", "valid URL"),
        ("file:///etc/passwd", "https"),
        ("javascript:alert(1)", "https"),
        (FCM_ENDPOINT + "a" * (1001 - len(FCM_ENDPOINT)), "1000"),
    ],
)
def test_malformed_endpoints_are_refused_with_a_reason(endpoint: str, message: str) -> None:
    [error] = _endpoint_errors(endpoint)
    assert message in error


def test_endpoint_of_exactly_1000_characters_is_accepted() -> None:
    assert _endpoint_errors(FCM_ENDPOINT + "a" * (1000 - len(FCM_ENDPOINT))) == []


def _off_curve_point() -> bytes:
    x = 1
    while True:  # x=1.. : find an x whose y is not on the curve for y=1
        raw = b"\x04" + x.to_bytes(32, "big") + (1).to_bytes(32, "big")
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        except ValueError:
            return raw
        x += 1


@pytest.mark.parametrize(
    ("p256dh", "message"),
    [
        (_b64(_off_curve_point()), "not a point"),
        (_b64(_point(serialization.PublicFormat.CompressedPoint)), "uncompressed"),
        (_b64(b"\x05" + os.urandom(64)), "uncompressed"),
        (P256DH[:-4], "uncompressed"),
        (P256DH[:-1] + "!", "uncompressed"),
        ("", "uncompressed"),
    ],
)
def test_p256dh_must_be_a_p256_point(p256dh: str, message: str) -> None:
    errors = validate_subscription(FCM_ENDPOINT, p256dh, AUTH, DEFAULT_PUSH_ORIGINS)
    assert [e.field for e in errors] == ["keys.p256dh"]
    assert message in errors[0].message


@pytest.mark.parametrize(
    "auth", [_b64(os.urandom(15)), _b64(os.urandom(17)), "", "AAAA AAAA AAAA AAAA AAAA AA"]
)
def test_auth_must_be_16_bytes(auth: str) -> None:
    assert validate_subscription(FCM_ENDPOINT, P256DH, auth, DEFAULT_PUSH_ORIGINS) == [
        FieldError("keys.auth", "must be URL-safe base64 of 16 bytes")
    ]


def test_padded_keys_are_accepted() -> None:
    padded_auth = base64.urlsafe_b64encode(os.urandom(16)).decode()
    assert padded_auth.endswith("==")
    assert validate_subscription(FCM_ENDPOINT, P256DH + "=", padded_auth, DEFAULT_PUSH_ORIGINS) == []


def test_every_problem_is_reported_at_once() -> None:
    errors = validate_subscription("http://10.0.0.1/", "x", "y", DEFAULT_PUSH_ORIGINS)
    assert [e.field for e in errors] == ["endpoint", "keys.p256dh", "keys.auth"]
