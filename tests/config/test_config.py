"""The configuration loader: typed settings, and mistakes named by file, key and fix."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from ecs_secret_bot.cloud.endpoints import (
    CLOSED_REGIONS,
    REGIONS,
    REGIONS_CHECKED,
    REGIONS_SOURCE,
    Service,
    endpoint_for,
)
from ecs_secret_bot.config import CloudSettings, load_settings
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
network = "vpc"
dkms_instance_id = "kst-hzz1"
encryption_key_id = "key-hzz1"
read_timeout = "20s"
max_attempts = 2
[cloud.region_defaults.cn-shanghai]
dkms_instance_id = "kst-shz9"
kms_endpoint = "http://127.0.0.1:9001"
ecs_endpoint = "127.0.0.1:9001"

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
    assert settings.cloud.network == "vpc"
    assert settings.cloud.endpoint_override("kms", "cn-hangzhou") == "http://127.0.0.1:9000"
    assert settings.cloud.endpoint_override("ecs", "cn-shanghai") == "127.0.0.1:9001"
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
        ("[cloud]\nkms_endpoint = 'kms.{regoin}.x'\n", "cloud.kms_endpoint", "not an endpoint"),
        ("[cloud]\nnetwork = 'private'\n", "cloud.network", 'write "public" or "vpc"'),
        (
            "[cloud.region_defaults.cn-hangzhou]\necs_endpoint = 'a b'\n",
            "cloud.region_defaults.cn-hangzhou.ecs_endpoint",
            "not an endpoint",
        ),
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


# --- regions and their endpoints ---------------------------------------------------------


def _cloud(tmp_path: Path, text: str) -> CloudSettings:
    return load_settings(_write(tmp_path, "[cloud]\n" + text)).cloud


def _urls(cloud: CloudSettings, service: Service) -> dict[str, str]:
    return {region: endpoint_for(cloud, service, region).url for region in cloud.regions}


def test_each_region_has_its_documented_endpoints_by_default(tmp_path: Path) -> None:
    cloud = _cloud(tmp_path, 'regions = ["cn-hangzhou", "eu-central-1"]\n')
    assert _urls(cloud, "kms") == {
        "cn-hangzhou": "https://kms.cn-hangzhou.aliyuncs.com",
        "eu-central-1": "https://kms.eu-central-1.aliyuncs.com",
    }
    assert _urls(cloud, "ecs")["eu-central-1"] == "https://ecs.eu-central-1.aliyuncs.com"


def test_network_vpc_picks_the_vpc_endpoint_of_each_region(tmp_path: Path) -> None:
    cloud = _cloud(tmp_path, 'regions = ["cn-hangzhou", "cn-shanghai"]\nnetwork = "vpc"\n')
    assert _urls(cloud, "kms")["cn-shanghai"] == "https://kms-vpc.cn-shanghai.aliyuncs.com"
    assert _urls(cloud, "ecs")["cn-hangzhou"] == "https://ecs-vpc.cn-hangzhou.aliyuncs.com"


def test_a_template_holds_the_region_and_a_region_of_its_own_wins(tmp_path: Path) -> None:
    cloud = _cloud(
        tmp_path,
        'regions = ["cn-hangzhou", "cn-shanghai", "cn-beijing"]\n'
        'kms_endpoint = "http://kms-{region}.proxy.internal"\n'
        'ecs_endpoint = "ecs.{region}.proxy.internal:8443"\n'
        "[cloud.region_defaults.cn-beijing]\n"
        'kms_endpoint = "http://10.0.0.7:9000"\n',
    )
    assert _urls(cloud, "kms") == {
        "cn-hangzhou": "http://kms-cn-hangzhou.proxy.internal",
        "cn-shanghai": "http://kms-cn-shanghai.proxy.internal",
        "cn-beijing": "http://10.0.0.7:9000",
    }
    assert _urls(cloud, "ecs")["cn-beijing"] == "https://ecs.cn-beijing.proxy.internal:8443"


def test_one_endpoint_for_two_regions_is_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _cloud(tmp_path, 'regions = ["cn-hangzhou", "cn-shanghai"]\nkms_endpoint = "10.0.0.1"\n')
    assert caught.value.key == "cloud.kms_endpoint"
    assert "would serve both cn-hangzhou and cn-shanghai" in str(caught.value)
    assert "{region}" in caught.value.next_step.text
    assert "[cloud.region_defaults.<region>] kms_endpoint" in caught.value.next_step.text
    with pytest.raises(ConfigError) as caught:
        _cloud(
            tmp_path,
            'regions = ["cn-hangzhou", "cn-shanghai"]\n'
            "[cloud.region_defaults.cn-shanghai]\n"
            'ecs_endpoint = "https://ecs.cn-hangzhou.aliyuncs.com"\n',
        )
    assert caught.value.key == "cloud.region_defaults.cn-shanghai.ecs_endpoint"


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        (
            'regions = ["cn-hangzou"]\ndefault_region = "cn-hangzou"\n',
            "cloud.regions[0]",
            "cn-hangzhou",
        ),
        ('default_region = "cn-shangai"\n', "cloud.default_region", '"cn-shanghai"'),
        ('regions = ["cn-hangzhou", "ap-southeast-2"]\n', "cloud.regions[1]", "is closed"),
        ('regions = ["cn-hangzhou", "xx-nowhere-9"]\n', "cloud.regions[1]", "not a region"),
    ],
)
def test_a_region_alibaba_cloud_does_not_have_is_refused_with_the_fix(
    tmp_path: Path, text: str, key: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _cloud(tmp_path, text)
    assert caught.value.key == key
    assert fragment in str(caught.value)
    region = text.split('"')[-2]
    assert f"[cloud.region_defaults.{region}]" in caught.value.next_step.text
    assert "cn-hangzhou" in caught.value.next_step.text  # the known regions are listed


def test_a_misspelt_region_says_which_one_was_meant(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _cloud(tmp_path, 'regions = ["cn-hangzhou", "cn-hangzou"]\n')
    assert 'is not a region Alibaba Cloud KMS serves (did you mean "cn-hangzhou"?)' in str(
        caught.value
    )


def test_a_region_newer_than_the_list_is_accepted_with_its_endpoints(tmp_path: Path) -> None:
    cloud = _cloud(
        tmp_path,
        'regions = ["cn-hangzhou", "xx-newland-1"]\n'
        "[cloud.region_defaults.xx-newland-1]\n"
        'kms_endpoint = "kms.xx-newland-1.aliyuncs.com"\n'
        'ecs_endpoint = "ecs.xx-newland-1.aliyuncs.com"\n',
    )
    assert cloud.regions == ("cn-hangzhou", "xx-newland-1")


def test_the_region_list_names_its_source_and_date() -> None:
    assert REGIONS_SOURCE.startswith("https://www.alibabacloud.com/help/")
    assert REGIONS_CHECKED[:4].isdigit()
    assert {"cn-hangzhou", "cn-shanghai", "ap-southeast-1", "eu-central-1"} <= set(REGIONS)
    assert not set(CLOSED_REGIONS) & set(REGIONS)


DEEP = 5000


@pytest.mark.parametrize(
    "text",
    [
        "a = " + "[" * DEEP + "]" * DEEP + "\n",
        "a = " + "{ b = " * DEEP + "1" + " }" * DEEP + "\n",
    ],
    ids=["lists", "inline tables"],
)
def test_a_configuration_nested_thousands_deep_is_a_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="nested too deeply") as caught:
        load_settings(path)
    assert str(path) in str(caught.value)


def test_a_policy_file_nested_thousands_deep_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "deep.json").write_text("[" * DEEP + "]" * DEEP, encoding="utf-8")
    path = tmp_path / "bot.toml"
    path.write_text('[access.policies.Deep]\nfile = "deep.json"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_settings(path)
