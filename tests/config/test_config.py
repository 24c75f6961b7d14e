"""The configuration loader: typed settings, and mistakes named by file, key and fix."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from ecs_secret_bot.config import load_settings
from ecs_secret_bot.errors import ConfigError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_full_cloud_section_is_read_into_typed_settings(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
[cloud]
default_region = "cn-shanghai"
regions = ["cn-hangzhou", "cn-shanghai"]
account_id = "1234567890123456"
kms_endpoint = "http://127.0.0.1:9000"
ecs_endpoint = "127.0.0.1:9000"
dkms_instance_id = "kst-hzz1"
encryption_key_id = "key-hzz1"
read_timeout = "20s"
max_attempts = 2
[cloud.region_defaults.cn-shanghai]
dkms_instance_id = "kst-shz9"

[storage]
path = "data/bot.db"
key_kms_key_id = "alias/ecs-secret-bot"

[rotation]
follow_up_timeout = "15m"

[reminders]
before = ["1d", "3d", "6h"]
""",
    )
    settings = load_settings(path)
    assert settings.cloud.regions == ("cn-hangzhou", "cn-shanghai")
    assert settings.cloud.default_region == "cn-shanghai"
    assert settings.cloud.account_id == "1234567890123456"
    assert settings.cloud.read_timeout == timedelta(seconds=20)
    assert settings.cloud.max_attempts == 2
    assert settings.cloud.defaults_for("cn-shanghai").dkms_instance_id == "kst-shz9"
    assert settings.cloud.defaults_for("cn-shanghai").encryption_key_id == "key-hzz1"
    assert settings.cloud.defaults_for("cn-hangzhou").dkms_instance_id == "kst-hzz1"
    # relative paths are relative to the configuration file's folder
    assert settings.storage.path == tmp_path / "data" / "bot.db"
    assert settings.storage.key_kms_key_id == "alias/ecs-secret-bot"
    assert settings.storage.key_kms_region == "cn-shanghai"  # the default region
    assert settings.rotation.follow_up_timeout == timedelta(minutes=15)
    assert settings.reminders_before == (timedelta(days=3), timedelta(days=1), timedelta(hours=6))


def test_an_empty_file_gives_the_documented_defaults(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, ""))
    assert settings.cloud.default_region == "cn-hangzhou"
    assert settings.cloud.account_id == "*"
    assert settings.storage.path == tmp_path / "ecs-secret-bot.db"
    assert settings.storage.key_kms_key_id == ""  # a plain key file
    assert settings.rotation.follow_up_timeout == timedelta(minutes=10)


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ("[cloud]\nregion = 'cn-hangzhou'\n", "cloud.region", "unknown key 'region'"),
        ("[clouds]\n", "clouds", "unknown key 'clouds'"),
        ("[cloud]\ndefault_region = 'Hangzhou'\n", "cloud.default_region", "not a region id"),
        ("[cloud]\nregions = ['cn-hangzhou', 7]\n", "cloud.regions[1]", "not a region id"),
        ("[cloud]\nregions = []\n", "cloud.regions", "at least one region"),
        (
            "[cloud]\ndefault_region = 'cn-beijing'\nregions = ['cn-hangzhou']\n",
            "cloud.default_region",
            "is not in cloud.regions",
        ),
        ("[cloud]\naccount_id = '123'\n", "cloud.account_id", "16-digit account id"),
        ("[cloud]\naccount_id = 1234\n", "cloud.account_id", "must be a string, not a number"),
        ("[cloud]\nkms_endpoint = 'http://a b'\n", "cloud.kms_endpoint", "not an endpoint"),
        ("[cloud]\nmax_attempts = 0\n", "cloud.max_attempts", "between 1 and 10"),
        ("[cloud]\nmax_attempts = true\n", "cloud.max_attempts", "not true/false"),
        ("[cloud]\nread_timeout = '10'\n", "cloud.read_timeout", "is not a duration"),
        ("[cloud]\nread_timeout = 10\n", "cloud.read_timeout", "duration string"),
        (
            "[cloud.region_defaults.cn-beijing]\ndkms_instance_id = 'x'\n",
            "cloud.region_defaults.cn-beijing",
            "not in cloud.regions",
        ),
        ("[storage]\npath = ''\n", "storage.path", "must not be empty"),
        ("[storage]\npaht = 'x.db'\n", "storage.paht", "unknown key 'paht'"),
        ("[storage]\nkey_kms_key_id = 7\n", "storage.key_kms_key_id", "must be a string"),
        (
            "[storage]\nkey_kms_region = 'cn-beijing'\n",
            "storage.key_kms_region",
            "must be one of cloud.regions (cn-hangzhou)",
        ),
        (
            "[rotation]\nfollow_up_timeout = '0m'\n",
            "rotation.follow_up_timeout",
            "longer than zero",
        ),
        ("[reminders]\nbefore = '3d'\n", "reminders.before", "list of durations"),
        ("cloud = 5\n", "cloud", "must be a table"),
        ("access = 'all'\n", "access", "must be a table"),
    ],
)
def test_mistakes_name_the_file_the_key_and_the_problem(
    tmp_path: Path, text: str, key: str, fragment: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert str(path.resolve()) in message
    assert f"[{key}]" in message
    assert fragment in message
    assert caught.value.key == key


def test_unknown_key_lists_the_allowed_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_write(tmp_path, "[storage]\npaht = 'x.db'\n"))
    assert "path" in caught.value.next_step.text


def test_missing_file_says_how_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path / "nope.toml")
    assert "nope.toml" in str(caught.value)
    assert "ECS_SECRET_BOT_CONFIG" in caught.value.next_step.text


def test_broken_toml_is_reported_with_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "[cloud\nregions = \n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert "is not valid TOML" in str(caught.value)
    assert "bot.toml" in str(caught.value)


def test_non_utf8_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_bytes(b"\xff\xfe[cloud]")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(path)
