"""The metrics: a registry of their own, the backlog read at scrape time, every cloud attempt.

Read back with prometheus_client's own parser, as Prometheus would.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

import pytest
from fakes.cloud import cloud_settings, fast_retry, sandbox_credential
from prometheus_client.parser import text_string_to_metric_families

from ecs_secret_bot.cloud.gateway import AlibabaCloudGateway
from ecs_secret_bot.errors import CloudThrottled
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.telemetry.metrics import Backlog, Metrics

P = "ecs_secret_bot"


async def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = (await metrics.render()).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_two_metrics_in_one_process_count_apart() -> None:
    first, second = Metrics(), Metrics()
    first.request(kind="command", name="help", outcome="ok")
    first.request(kind="command", name="help", outcome="ok")
    second.request(kind="command", name="help", outcome="refused")
    key = (f"{P}_requests_total", (("kind", "command"), ("name", "help"), ("outcome", "ok")))
    assert (await samples(first))[key] == 2
    assert key not in await samples(second)


async def test_the_backlog_is_read_at_scrape_time_at_most_once_per_ttl() -> None:
    reads: list[int] = []
    planned = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)

    async def read() -> Backlog:
        reads.append(1)
        return Backlog(approvals_waiting=2, pending_deletions=3, next_deletion=planned)

    metrics = Metrics(backlog_ttl=60)
    before = await samples(metrics)
    assert (f"{P}_approvals_waiting", ()) not in before  # nothing known, nothing shown
    metrics.watch_backlog(read)
    shown = await samples(metrics)
    await samples(metrics)
    assert len(reads) == 1
    assert shown[(f"{P}_approvals_waiting", ())] == 2
    assert shown[(f"{P}_pending_deletions", ())] == 3
    assert shown[(f"{P}_next_deletion_timestamp_seconds", ())] == planned.timestamp()


async def test_a_backlog_that_cannot_be_read_leaves_the_last_one_and_the_scrape_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    answers: list[Backlog | Exception] = [Backlog(approvals_waiting=1), OSError("disk gone")]

    async def read() -> Backlog:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    metrics = Metrics(backlog_ttl=0)
    metrics.watch_backlog(read)
    assert (await samples(metrics))[(f"{P}_approvals_waiting", ())] == 1
    assert (await samples(metrics))[(f"{P}_approvals_waiting", ())] == 1
    assert "the backlog could not be read: OSError" in caplog.text


async def test_a_slow_backlog_read_does_not_hold_the_scrape() -> None:
    async def read() -> Backlog:
        await asyncio.sleep(30)
        return Backlog()

    metrics = Metrics(backlog_timeout=0.05)
    metrics.watch_backlog(read)
    async with asyncio.timeout(2):
        shown = await samples(metrics)
    assert (f"{P}_approvals_waiting", ()) not in shown


async def test_duty_ticks_show_the_lease_holder_the_replica_and_the_lag() -> None:
    metrics = Metrics(version="9.9")
    metrics.duty_tick(owner="host-a:12", held=True, lag=0.2)
    metrics.duty_tick(owner="host-a:12", held=False, lag=0.0)
    shown = await samples(metrics)
    assert shown[(f"{P}_duty_lease_holder", (("owner", "host-a:12"),))] == 0
    info = (f"{P}_replica_info", (("replica", "host-a:12"), ("version", "9.9")))
    assert shown[info] == 1
    assert shown[(f"{P}_duty_ticks_total", (("held", "true"),))] == 1
    assert shown[(f"{P}_duty_ticks_total", (("held", "false"),))] == 1
    assert shown[(f"{P}_duty_lag_seconds_count", ())] == 1  # only ticks that ran
    assert shown[(f"{P}_duty_lag_seconds_bucket", (("le", "0.5"),))] == 1


async def test_every_attempt_of_a_cloud_call_is_counted_retries_included(
    sandbox: Sandbox,
) -> None:
    metrics = Metrics()
    retry = dataclasses.replace(fast_retry(), observer=metrics)
    gateway = AlibabaCloudGateway(
        cloud_settings(sandbox), credential=sandbox_credential(), retry=retry
    )
    sandbox.faults.add(action="ListSecrets", kind="throttling", times=1)
    await gateway.list_secrets("cn-hangzhou")
    sandbox.faults.add(action="ListSecrets", kind="throttling")
    with pytest.raises(CloudThrottled):
        await gateway.list_secrets("cn-hangzhou")
    shown = await samples(metrics)

    def count(code: str, retry: str) -> float:
        labels = (("action", "ListSecrets"), ("code", code), ("retry", retry), ("service", "kms"))
        return shown.get((f"{P}_cloud_calls_total", labels), 0)

    assert count("ok", "true") == 1
    assert count("Rejected.Throttling", "false") == 2  # the first attempt of each call
    assert count("Rejected.Throttling", "true") == 2  # the failing call's two retries
    assert count("ok", "false") == 0
    seconds = (f"{P}_cloud_call_seconds_count", (("action", "ListSecrets"), ("service", "kms")))
    assert shown[seconds] == 5
