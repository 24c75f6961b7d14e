"""manifest.yml and README's "Connect it to Slack" say what the bot needs (issue 12, item 13):
every subcommand in the usage hint, a Messages tab people can type in, the scopes the fake
Slack holds the bot to, and the steps a first install trips on."""

from __future__ import annotations

from typing import Any

import yaml
from fakes import workspace as ws
from readme_blocks import README, section_text

from ecs_secret_bot.bot.http import EVENTS_PATH
from ecs_secret_bot.bot.parse import USAGE
from ecs_secret_bot.commands.duties import CARD_RETRIES_FOR

MANIFEST = README.parent / "manifest.yml"


def manifest() -> dict[str, Any]:
    loaded = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_the_usage_hint_names_every_subcommand() -> None:
    [command] = manifest()["features"]["slash_commands"]
    words = {part.split()[0] for part in command["usage_hint"].split(" | ")}
    assert words == set(USAGE)
    assert len(command["usage_hint"]) <= 1000


def test_people_can_type_in_the_bots_messages_tab() -> None:
    app_home = manifest()["features"]["app_home"]
    assert app_home["messages_tab_enabled"] is True
    assert app_home["messages_tab_read_only_enabled"] is False


def test_the_fake_slack_holds_the_bot_to_the_manifests_scopes() -> None:
    assert set(manifest()["oauth_config"]["scopes"]["bot"]) == set(ws.BOT_SCOPES)


def test_every_request_url_is_the_one_the_bot_serves() -> None:
    settings = manifest()["settings"]
    urls = [
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        settings["interactivity"]["message_menu_options_url"],
        *(c["url"] for c in manifest()["features"]["slash_commands"]),
    ]
    assert all(url.endswith(EVENTS_PATH) for url in urls)


def test_connecting_says_what_a_first_install_trips_on() -> None:
    text = " ".join(section_text("## Connect it to Slack").split())
    assert "Request URL shows *Verified*" in text and "App Home stays blank" in text
    assert "every channel where people will run `/ecs-secret`" in text
    assert "`chat:write.public`" in text
    minutes = int(CARD_RETRIES_FOR.total_seconds() // 60)
    assert f"tried again for about {minutes} minutes" in " ".join(
        section_text("## Troubleshooting").split()
    )
