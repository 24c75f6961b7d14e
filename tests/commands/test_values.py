"""Custom values: ECS password rules, SSH key checks, and values that never show themselves."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ecs_secret_bot.commands.values import (
    PasswordValue,
    check_custom_password,
    check_user_name,
    from_payload,
    secret_data_json,
    ssh_key_value,
    to_payload,
)
from ecs_secret_bot.errors import InvalidInput

CANARY = "Canary#Pw9-zz"


def _pem(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, *, password: bytes | None = None
) -> str:
    encryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.mark.parametrize(
    ("password", "os_type", "fragment"),
    [
        ("Ab1!", "linux", "4 characters long; KMS takes 8 to 32"),
        ("Ab1!" * 8 + "x", "linux", "33 characters long"),
        ("abcdefgh12", "linux", "2 of the 4 character classes"),
        ("Abc def 123", "linux", "spaces"),
        ("Abcdef12\u00e9", "linux", "1 character(s) ECS does not allow"),
        ("/Abcdef12", "windows", "must not start with '/'"),
    ],
)
def test_bad_passwords_are_refused_with_the_rule_and_without_the_value(
    password: str, os_type: str, fragment: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_custom_password(password, os_type=os_type)
    assert fragment in caught.value.user_message
    assert caught.value.field == "password"
    assert password not in str(caught.value)


@pytest.mark.parametrize("password", ["Abcdef12", "abc-def-12", "/Abcdef12", "ABC!def?"])
def test_good_passwords_pass_on_linux(password: str) -> None:
    check_custom_password(password, os_type="linux")


@pytest.mark.parametrize("length", [31, 32])
def test_passwords_as_long_as_kms_generates_pass(length: int) -> None:
    # KMS generates 32 characters; the ECS API's cap of 30 does not govern KMS values.
    check_custom_password(("Ab1!" * 8)[:length], os_type="windows")


def test_ssh_key_derives_the_public_key(rsa_key: rsa.RSAPrivateKey) -> None:
    value = ssh_key_value("root", _pem(rsa_key))
    expected = (
        rsa_key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    assert value.public_key == expected
    assert value.sub_type == "SSHKey"
    assert "PRIVATE KEY" not in repr(value)


def test_ssh_key_with_a_matching_public_key_is_accepted(rsa_key: rsa.RSAPrivateKey) -> None:
    public = ssh_key_value("root", _pem(rsa_key)).public_key + " me@laptop"
    assert ssh_key_value("root", _pem(rsa_key), public_key=public).public_key.startswith("ssh-rsa")


def test_ssh_key_with_another_public_key_is_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = ssh_key_value("root", _pem(other)).public_key
    with pytest.raises(InvalidInput) as caught:
        ssh_key_value("root", _pem(rsa_key), public_key=public)
    assert caught.value.field == "public_key"


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: "not a key", "not in PEM format"),
        (lambda: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "cannot be read"),
        (
            lambda: _pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)),
            "1024 bits; at least 2048",
        ),
        (lambda: _pem(ec.generate_private_key(ec.SECP256R1())), "not an RSA key"),
        (
            lambda: _pem(
                rsa.generate_private_key(public_exponent=65537, key_size=2048), password=b"pw"
            ),
            "passphrase",
        ),
    ],
)
def test_bad_private_keys_are_refused(make: object, fragment: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        ssh_key_value("root", make())  # type: ignore[operator]
    assert fragment in caught.value.user_message
    assert caught.value.field == "private_key"


@pytest.mark.parametrize("name", ["", "  ", "ro ot", "a/b", "x" * 65])
def test_bad_user_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput):
        check_user_name(name)


def test_values_never_show_themselves_but_round_trip() -> None:
    value = PasswordValue(user_name="root", password=CANARY)
    assert CANARY not in repr(value)
    assert CANARY not in str(value)
    assert CANARY not in f"{value}"
    assert from_payload(to_payload(value)) == value
    assert '"Password":"' + CANARY + '"' in secret_data_json(value)
