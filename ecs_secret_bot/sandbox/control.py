"""The ``/_sandbox/...`` control routes: steer a sandbox running in another process.

They take and give JSON, need no signature, and answer only to loopback clients
(anyone else gets 403). They are not part of any Alibaba Cloud API.

===========================================  ==================================================
route                                        what it does
===========================================  ==================================================
``GET /_sandbox``                            endpoint (default region), endpoints per region,
                                             AccessKey IDs, settings
``GET /_sandbox/calls``                      ``{"calls": [{"action","region","count"}], "total"}``
``DELETE /_sandbox/calls``                   reset the call counts
``GET /_sandbox/faults``                     the active faults
``POST /_sandbox/faults``                    ``{"action": "RotateSecret"|"*", "kind":
                                             "latency"|"throttling"|"server_error"|"drop"|
                                             "rotation_failure"|"rotation_stuck"|
                                             "rotation_slow", "times": n|null, "latency": s,
                                             "status": 500|503}`` (``faults`` says what each
                                             kind does)
``DELETE /_sandbox/faults``                  clear all faults (``?action=X``: those of X)
``DELETE /_sandbox/faults/{id}``             remove one fault
``GET /_sandbox/clock``                      ``{"now": "...Z"}``
``POST /_sandbox/clock``                     ``{"advance_seconds": n}`` (built-in clock only)
``POST /_sandbox/settings``                  ``{"custom_values": "push"|"accept"|"refuse",
                                             "refuse_custom_values": b, "rotation_delay": s,
                                             "kms_qps": n|null}`` (``throttle``)
``POST /_sandbox/fleet``                     ``{"regions": [..]?, "instances": n?,
                                             "secrets_per_instance": n?}``: add a tagged fleet
                                             (``fleet``); answers its instances and secrets
``POST /_sandbox/instances``                 ``{"region", "instance_id", "status"?,
                                             "cloud_assistant_online"?}``; with ``"name"`` (and
                                             ``"os_type"``) it adds the instance if new
``GET /_sandbox/rotations?region=&name=``    in progress?, AutomaticRotation, failureInfo
``GET /_sandbox/events``                     CloudMonitor-like rotation events
``POST /_sandbox/secrets/restore``           ``{"region", "name"}``: console-style restore
``POST /_sandbox/secrets/delete``            ``{"region", "name", "force"?, "planned_in_seconds"?}``
``GET /_sandbox/ram``                        the RAM policy of the AccessKey pairs, and the roles
``POST /_sandbox/ram``                       ``{"policy": {RAM policy document} | "default"}``
``POST /_sandbox/roles``                     ``{"name", "policy"?}``: add a RAM role (its
                                             sessions act under ``policy``, else the keys' own)
``GET /_sandbox/callers``                    who made each call: action, region, AccessKey,
                                             principal, role session name, allowed
===========================================  ==================================================
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiohttp import web

from ecs_secret_bot.sandbox.clock import format_utc
from ecs_secret_bot.sandbox.fleet import seed_fleet
from ecs_secret_bot.sandbox.ram import as_policy
from ecs_secret_bot.sandbox.world import World

__all__ = ["add_control_routes"]

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def add_control_routes(
    app: web.Application, world: World, *, endpoints: Callable[[], dict[str, str]]
) -> None:
    """Add the ``/_sandbox`` routes steering ``world`` to ``app``; ``endpoints()`` says where
    each region is served (``127.0.0.1:PORT``, default region first)."""
    routes = _Routes(world, endpoints)
    table: list[tuple[str, str, _Handler]] = [
        ("GET", "", routes.info),
        ("GET", "/calls", routes.get_calls),
        ("DELETE", "/calls", routes.clear_calls),
        ("GET", "/faults", routes.get_faults),
        ("POST", "/faults", routes.add_fault),
        ("DELETE", "/faults", routes.clear_faults),
        ("DELETE", "/faults/{id}", routes.remove_fault),
        ("GET", "/clock", routes.get_clock),
        ("POST", "/clock", routes.move_clock),
        ("POST", "/settings", routes.settings),
        ("POST", "/fleet", routes.fleet),
        ("POST", "/instances", routes.instances),
        ("GET", "/rotations", routes.rotations),
        ("GET", "/events", routes.events),
        ("POST", "/secrets/restore", routes.restore),
        ("POST", "/secrets/delete", routes.delete),
        ("GET", "/ram", routes.get_ram),
        ("POST", "/ram", routes.set_ram),
        ("POST", "/roles", routes.add_role),
        ("GET", "/callers", routes.callers),
    ]
    for method, path, handler in table:
        app.router.add_route(method, "/_sandbox" + path, _loopback_only(handler))


class _BadRequest(Exception):
    """A control request the sandbox cannot follow; the message says why."""


def _loopback_only(handler: _Handler) -> _Handler:
    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            loopback = ipaddress.ip_address(request.remote or "").is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            return web.json_response({"error": "control routes answer loopback only"}, status=403)
        try:
            return await handler(request)
        except (_BadRequest, ValueError, LookupError, RuntimeError) as exc:
            message = exc.args[0] if exc.args else str(exc)
            return web.json_response({"error": str(message)}, status=400)

    return guarded


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        raise _BadRequest("the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise _BadRequest("the body must be a JSON object")
    return data


def _count(data: dict[str, Any], name: str, default: int) -> int:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _BadRequest(f"{name!r} must be a whole number")
    return value


def _field(data: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(name)
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        wanted = kind.__name__ if isinstance(kind, type) else "a number"
        raise _BadRequest(f"{name!r} is required and must be {wanted}")
    return value


class _Routes:
    def __init__(self, world: World, endpoints: Callable[[], dict[str, str]]) -> None:
        self.sb = world
        self.endpoints = endpoints

    async def info(self, request: web.Request) -> web.StreamResponse:
        endpoints = self.endpoints()
        return web.json_response(
            {
                "endpoint": next(iter(endpoints.values()), ""),
                "endpoints": endpoints,
                "access_key_ids": sorted(self.sb.access_keys),
                "regions": list(endpoints),
                "custom_values": self.sb.custom_values,
                "refuse_custom_values": self.sb.refuse_custom_values,
                "rotation_delay": self.sb.rotation_delay,
                "now": format_utc(self.sb.now()),
            }
        )

    async def get_calls(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"calls": self.sb.calls.as_list(), "total": self.sb.calls.total()})

    async def clear_calls(self, request: web.Request) -> web.StreamResponse:
        self.sb.calls.clear()
        return web.json_response({"cleared": True})

    async def get_faults(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"faults": [f.as_dict() for f in self.sb.faults.active]})

    async def add_fault(self, request: web.Request) -> web.StreamResponse:
        data = await _body(request)
        unknown = set(data) - {"action", "kind", "times", "latency", "status"}
        if unknown:
            raise _BadRequest(f"unknown field {sorted(unknown)[0]!r}")
        fault = self.sb.faults.add(
            action=data.get("action", "*"),
            kind=_field(data, "kind", str),
            times=data.get("times"),
            latency=data.get("latency", 0.05),
            status=data.get("status", 500),
        )
        return web.json_response(fault.as_dict(), status=201)

    async def clear_faults(self, request: web.Request) -> web.StreamResponse:
        self.sb.faults.clear(request.query.get("action"))
        return web.json_response({"cleared": True})

    async def remove_fault(self, request: web.Request) -> web.StreamResponse:
        fault_id = request.match_info["id"]
        if not fault_id.isdigit() or not self.sb.faults.remove(int(fault_id)):
            return web.json_response({"error": f"no fault {fault_id}"}, status=404)
        return web.json_response({"removed": int(fault_id)})

    async def get_clock(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"now": format_utc(self.sb.now())})

    async def move_clock(self, request: web.Request) -> web.StreamResponse:
        seconds = _field(await _body(request), "advance_seconds", (int, float))
        now = self.sb.advance(timedelta(seconds=seconds))
        return web.json_response({"now": format_utc(now)})

    async def settings(self, request: web.Request) -> web.StreamResponse:
        data = await _body(request)
        if "refuse_custom_values" in data:
            self.sb.refuse_custom_values = _field(data, "refuse_custom_values", bool)
        if "custom_values" in data:
            self.sb.custom_values = _field(data, "custom_values", str)
        if "rotation_delay" in data:
            self.sb.rotation_delay = float(_field(data, "rotation_delay", (int, float)))
        if "kms_qps" in data:
            self.sb.kms_qps = data["kms_qps"]
        return web.json_response(
            {
                "custom_values": self.sb.custom_values,
                "refuse_custom_values": self.sb.refuse_custom_values,
                "rotation_delay": self.sb.rotation_delay,
                "kms_qps": self.sb.kms_qps,
            }
        )

    async def fleet(self, request: web.Request) -> web.StreamResponse:
        data = await _body(request)
        unknown = set(data) - {"regions", "instances", "secrets_per_instance"}
        if unknown:
            raise _BadRequest(f"unknown field {sorted(unknown)[0]!r}")
        regions = data.get("regions", list(self.endpoints()))
        if not isinstance(regions, list) or not all(isinstance(r, str) for r in regions):
            raise _BadRequest("'regions' must be a list of region ids")
        unserved = sorted(set(regions) - set(self.endpoints()))
        if unserved:
            raise _BadRequest(f"the sandbox does not serve {unserved[0]!r}")
        fleet = seed_fleet(
            self.sb,
            regions=regions,
            instances=_count(data, "instances", 50),
            secrets_per_instance=_count(data, "secrets_per_instance", 4),
        )
        return web.json_response(
            {
                "instances": [
                    {"region": i.region, "instance_id": i.instance_id, "name": i.name}
                    for i in fleet.instances
                ],
                "secrets": [
                    {"region": s.region, "name": s.name, "instance_id": s.instance_id}
                    for s in fleet.secrets
                ],
            },
            status=201,
        )

    async def instances(self, request: web.Request) -> web.StreamResponse:
        data = await _body(request)
        region = _field(data, "region", str)
        instance_id = _field(data, "instance_id", str)
        if self.sb.ecs.get(region, instance_id) is None:
            if "name" not in data:
                raise _BadRequest(f"no instance {instance_id!r} in {region}; give a name to add it")
            self.sb.add_instance(
                region,
                instance_id,
                name=_field(data, "name", str),
                os_type=data.get("os_type", "linux"),
            )
        if "status" in data:
            self.sb.set_instance_status(region, instance_id, _field(data, "status", str))
        if "cloud_assistant_online" in data:
            online = _field(data, "cloud_assistant_online", bool)
            self.sb.set_cloud_assistant(region, instance_id, online)
        return web.json_response(self.sb.ecs.require(region, instance_id).to_api())

    async def rotations(self, request: web.Request) -> web.StreamResponse:
        region = request.query.get("region", "cn-hangzhou")
        name = request.query.get("name", "")
        failure = self.sb.rotation_failure(region, name)
        secret = self.sb.secret(region, name)
        return web.json_response(
            {
                "secretName": secret.name,
                "inProgress": self.sb.rotation_in_progress(region, name),
                "rotationStatus": secret.automatic_rotation(),
                "failureInfo": (
                    {"errorCode": failure[0], "errorMessage": failure[1]} if failure else None
                ),
            }
        )

    async def events(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {
                "events": [
                    {
                        "name": e.name,
                        "region": e.region,
                        "secretName": e.secret_name,
                        "versionId": e.version_id,
                        "time": format_utc(e.time),
                        "failureInfo": (
                            {"errorCode": e.failure.code, "errorMessage": e.failure.message}
                            if e.failure
                            else None
                        ),
                    }
                    for e in self.sb.events
                ]
            }
        )

    async def restore(self, request: web.Request) -> web.StreamResponse:
        data = await _body(request)
        self.sb.restore_out_of_band(_field(data, "region", str), _field(data, "name", str))
        return web.json_response({"restored": True})

    async def delete(self, request: web.Request) -> web.StreamResponse:
        data = await _body(request)
        region, name = _field(data, "region", str), _field(data, "name", str)
        force = bool(data.get("force", False))
        seconds = data.get("planned_in_seconds")
        planned = timedelta(seconds=float(seconds)) if seconds is not None else None
        self.sb.delete_out_of_band(region, name, planned=planned, force=force)
        return web.json_response({"deleted": True, "force": force})

    async def get_ram(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {
                "policy": dict(self.sb.access.policy.document),
                "roles": [{"name": r.name, "arn": r.arn} for r in self.sb.sts.roles.values()],
            }
        )

    async def set_ram(self, request: web.Request) -> web.StreamResponse:
        policy = (await _body(request)).get("policy")
        if policy != "default" and not isinstance(policy, dict):
            raise _BadRequest("'policy' must be a RAM policy document or \"default\"")
        self.sb.access.policy = as_policy(None if policy == "default" else policy)
        return web.json_response({"policy": dict(self.sb.access.policy.document)})

    async def add_role(self, request: web.Request) -> web.StreamResponse:
        data = await _body(request)
        policy = data.get("policy")
        if policy is not None and not isinstance(policy, dict):
            raise _BadRequest("'policy' must be a RAM policy document")
        role = self.sb.sts.add_role(
            _field(data, "name", str), policy=as_policy(policy) if policy else None
        )
        return web.json_response({"name": role.name, "arn": role.arn}, status=201)

    async def callers(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"calls": self.sb.access.as_list()})
