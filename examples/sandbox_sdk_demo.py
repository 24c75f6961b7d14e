"""Drive the ecs-secret-bot sandbox with nothing but the Alibaba Cloud Python SDK.

Start the sandbox, then run this script:

    ecs-secret-bot sandbox --port 9000
    python examples/sandbox_sdk_demo.py --endpoint 127.0.0.1:9000

It finds a running Linux instance whose Cloud Assistant is online, hosts that
instance's root password as a dynamic ECS secret, rotates it and waits until the new
version is ACSCurrent, schedules the secret's deletion and restores it, then deletes it
for good. It prints what happens, never a secret value. Against the real cloud the same
calls work with your own AccessKey and no ``--endpoint``/``protocol`` overrides.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time

from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_kms20160120 import models as kms_models
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.models import Config


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", default="127.0.0.1:9000", help="sandbox host:port")
    parser.add_argument("--region", default="cn-hangzhou")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for rotation")
    args = parser.parse_args()

    # The sandbox's public AccessKey pair; KMS takes its region from the endpoint.
    config = dict(
        access_key_id="sandbox",
        access_key_secret="sandbox-secret",
        endpoint=args.endpoint,
        protocol="http",
    )
    kms = KmsClient(Config(**config))
    ecs = EcsClient(Config(**config))

    instance_id = pick_instance(ecs, args.region)
    if instance_id is None:
        print("no running Linux instance with Cloud Assistant online; nothing to do")
        return 1
    print(f"instance: {instance_id} is Running and its Cloud Assistant is online")

    name = f"acs/ecs/demo-{secrets.token_hex(3)}-root"
    initial = {"UserName": "root", "Password": secrets.token_urlsafe(18) + "#1a"}
    created = kms.create_secret(
        kms_models.CreateSecretRequest(
            secret_name=name,
            secret_type="ECS",
            version_id="v1",
            secret_data=json.dumps(initial),
            extended_config={
                "SecretSubType": "Password",
                "RegionId": args.region,
                "InstanceId": instance_id,
            },
            enable_automatic_rotation=True,
            rotation_interval="7d",
        )
    ).body
    print(
        f"created: {created.arn} (automatic rotation {created.automatic_rotation}, "
        f"every {created.rotation_interval})"
    )

    kms.rotate_secret(kms_models.RotateSecretRequest(secret_name=name, version_id="rotation-1"))
    print("rotation triggered: version rotation-1 is ACSPending until KMS sets it on the instance")
    if not wait_for_current(kms, name, "rotation-1", timeout=args.timeout):
        return 1
    detail = kms.describe_secret(kms_models.DescribeSecretRequest(secret_name=name)).body
    print(
        f"rotation completed: rotation-1 is ACSCurrent (last rotation {detail.last_rotation_date})"
    )

    deleted = kms.delete_secret(
        kms_models.DeleteSecretRequest(secret_name=name, recovery_window_in_days="7")
    ).body
    print(f"deletion scheduled for {deleted.planned_delete_time}")
    detail = kms.describe_secret(kms_models.DescribeSecretRequest(secret_name=name)).body
    print(f"describe: planned deletion time {detail.planned_delete_time}")

    kms.restore_secret(kms_models.RestoreSecretRequest(secret_name=name))
    detail = kms.describe_secret(kms_models.DescribeSecretRequest(secret_name=name)).body
    print(f"restored: planned deletion time is now {detail.planned_delete_time}")

    kms.delete_secret(
        kms_models.DeleteSecretRequest(secret_name=name, force_delete_without_recovery="true")
    )
    print(f"cleaned up: {name} deleted without recovery")
    return 0


def pick_instance(ecs: EcsClient, region: str) -> str | None:
    """Return a running Linux instance whose Cloud Assistant is online, or None."""
    request = ecs_models.DescribeInstancesRequest(region_id=region, status="Running")
    running = ecs.describe_instances(request).body.instances.instance
    linux = [i.instance_id for i in running if i.ostype == "linux"]
    if not linux:
        return None
    status = ecs.describe_cloud_assistant_status(
        ecs_models.DescribeCloudAssistantStatusRequest(region_id=region, instance_id=linux)
    ).body
    online = [
        s.instance_id
        for s in status.instance_cloud_assistant_status_set.instance_cloud_assistant_status
        if s.cloud_assistant_status == "true"
    ]
    return next((i for i in linux if i in online), None)


def wait_for_current(kms: KmsClient, name: str, version_id: str, *, timeout: float) -> bool:
    """Poll until ``version_id`` is ACSCurrent; report a failed or slow rotation."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        versions = kms.list_secret_version_ids(
            kms_models.ListSecretVersionIdsRequest(secret_name=name)
        ).body.version_ids.version_id
        stages = {v.version_id: v.version_stages.version_stage for v in versions}
        if "ACSCurrent" in stages.get(version_id, []):
            return True
        detail = kms.describe_secret(kms_models.DescribeSecretRequest(secret_name=name)).body
        if detail.automatic_rotation == "Invalid":
            print("rotation failed: KMS marks automatic rotation Invalid")
            return False
        time.sleep(0.2)
    print(f"rotation did not complete within {timeout:g}s")
    return False


if __name__ == "__main__":
    sys.exit(main())
