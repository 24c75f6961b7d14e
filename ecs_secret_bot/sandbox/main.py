"""``ecs-secret-bot sandbox``: serve the emulated cloud in the foreground until stopped.

Serves each region given with ``--region`` (default ``cn-hangzhou``) on its own endpoint,
as Alibaba Cloud does: the first on ``--port``, the next ones on the ports after it (STS,
global, on each). Prints the endpoint of each region, the AccessKey pair
(``sandbox-secret`` is a public sandbox credential, like LocalStack's ``test``), the RAM
policy it enforces on that pair (the bot's shipped policy unless ``--ram-policy``), the RAM
roles it may assume (``--role``) and how to point the SDK and the bot at it; lists the
seeded instances and secrets by name, never their values. Stops on Ctrl-C or SIGTERM:
takes no new calls, gives those in progress the grace period, and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path

from ecs_secret_bot.sandbox.ram import RamPolicy
from ecs_secret_bot.sandbox.seed import DEMO_INSTANCES, DEMO_REGION, DEMO_SECRETS
from ecs_secret_bot.sandbox.server import DEFAULT_ACCESS_KEYS, DEFAULT_REGION, Sandbox

__all__ = ["run_sandbox"]


def run_sandbox(args: argparse.Namespace) -> int:
    """Serve the sandbox described by the parsed ``sandbox`` arguments; return the exit code."""
    access_keys = dict(DEFAULT_ACCESS_KEYS)
    for pair in args.access_key:
        key_id, sep, secret = pair.partition(":")
        if not sep or not key_id or not secret:
            print(f"--access-key {pair!r}: write it as ID:SECRET", file=sys.stderr)
            return 2
        access_keys[key_id] = secret
    if args.rotation_delay < 0:
        print("--rotation-delay must be zero or more seconds", file=sys.stderr)
        return 2
    try:
        policy = RamPolicy.load(Path(args.ram_policy)) if args.ram_policy else None
    except (OSError, ValueError) as exc:
        print(f"--ram-policy {args.ram_policy}: {exc}", file=sys.stderr)
        return 2
    try:
        sandbox = Sandbox(
            regions=args.region or [DEFAULT_REGION],
            access_keys=access_keys,
            seed=not args.no_seed,
            rotation_delay=args.rotation_delay,
            refuse_custom_values=args.refuse_custom_values,
            ram_policy=policy,
        )
    except ValueError as exc:
        print(f"--region: {exc}", file=sys.stderr)
        return 2
    if not args.refuse_custom_values:
        sandbox.custom_values = args.custom_values
    if not 0 <= args.grace <= 3600:
        print("--grace must be 0 to 3600 seconds", file=sys.stderr)
        return 2
    try:
        for name in args.role:
            sandbox.sts.add_role(name)
    except ValueError as exc:
        print(f"--role: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(
            _serve(
                sandbox,
                host=args.host,
                port=args.port,
                grace=args.grace,
                extra_ids=sorted(access_keys),
            )
        )
    except KeyboardInterrupt:  # pragma: no cover - a second Ctrl-C during shutdown
        return 130


async def _serve(
    sandbox: Sandbox, *, host: str, port: int, grace: float, extra_ids: list[str]
) -> int:
    try:
        await sandbox.start(port=port, host=host, grace=grace)
    except OSError as exc:
        last = port + len(sandbox.regions) - 1
        ports = f"{port}-{last}" if port and last > port else str(port)
        print(f"cannot listen on {host}:{ports}: {exc.strerror}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    _banner(sandbox, extra_ids=extra_ids)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await sandbox.stop()
    print("sandbox stopped", flush=True)
    return 0


_CUSTOM_VALUES = {
    "push": "pushed to the instance like a rotation (--custom-values)",
    "accept": "made current without reaching the instance (--custom-values)",
    "refuse": "refused (--custom-values)",
}


def _banner(sandbox: Sandbox, *, extra_ids: list[str]) -> None:
    others = [key_id for key_id in extra_ids if key_id not in DEFAULT_ACCESS_KEYS]
    first = sandbox.regions[0]
    lines = [
        f"Alibaba Cloud KMS + ECS sandbox listening on {sandbox.url} ({first})",
        "  one endpoint per region, every service on each (KMS 2016-01-20, ECS 2014-05-26,",
        "  STS 2015-04-01); a call is answered by the region of the endpoint it is sent to:",
        *(f"  {region:<16} {url}" for region, url in sandbox.endpoints.items()),
        "  AccessKey:  sandbox / sandbox-secret  (a public sandbox credential)",
        f"  RAM policy: {sandbox.access.policy.source or 'given in code'} (on every call)",
    ]
    for role in sandbox.sts.roles.values():
        lines.append(f"  RAM role:   {role.arn}  (STS AssumeRole on any endpoint)")
    if others:
        lines.append(f"  also accepted AccessKey IDs: {', '.join(others)}")
    lines += [
        f"  rotations complete after {sandbox.rotation_delay:g}s; custom values "
        + _CUSTOM_VALUES[sandbox.custom_values],
        "",
        "Point the SDK at a region's endpoint:",
        "  from alibabacloud_kms20160120.client import Client",
        "  from alibabacloud_tea_openapi.models import Config",
        '  Client(Config(access_key_id="sandbox", access_key_secret="sandbox-secret",',
        f'                endpoint="{sandbox.endpoint}", protocol="http"))',
        f"  (the same Config works for alibabacloud_ecs20140526.client.Client, in {first})",
        "",
        "Point the bot at it ([cloud] of ecs-secret-bot.toml):",
        f"  regions = {json.dumps(list(sandbox.regions))}",
        f'  kms_endpoint = "{sandbox.url}"',
        f'  ecs_endpoint = "{sandbox.url}"',
        f'  sts_endpoint = "{sandbox.url}"',
    ]
    for region in sandbox.regions[1:]:
        for service in ("kms", "ecs"):
            url = sandbox.url_of(region)
            lines.append(f'  region_defaults.{region}.{service}_endpoint = "{url}"')
    lines += [
        "",
        "Control routes (loopback, no signature, on every endpoint): "
        f"{sandbox.url}/_sandbox/calls, /faults, /clock, /instances, /rotations, /settings, "
        "/ram, /roles, /callers",
    ]
    if DEMO_REGION in sandbox.regions and sandbox.kms.secrets(DEMO_REGION):
        lines += ["", f"Seeded in {DEMO_REGION}:"]
        for instance_id, name, os_type, status, online in DEMO_INSTANCES:
            agent = "Cloud Assistant online" if online else "Cloud Assistant OFFLINE"
            lines.append(f"  instance {instance_id}  {name:<10} {os_type:<8} {status:<8} {agent}")
        for secret_name, instance_id, user, sub_type, interval in DEMO_SECRETS:
            rotation = f"rotates every {interval}" if interval else "manual rotation"
            lines.append(
                f"  secret   {secret_name:<28} {sub_type:<8} {user}@{instance_id}, {rotation}"
            )
    lines += ["", "Ctrl-C to stop."]
    print("\n".join(lines), flush=True)
