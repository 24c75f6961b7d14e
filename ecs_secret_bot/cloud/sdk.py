"""The typed face of the untyped Alibaba Cloud SDK: the client methods we call, the fields we read.

The SDK packages ship no type information, so to mypy every client and model is ``Any``.
These protocols say, at our boundary, what ``kms`` and ``ecs`` rely on: each client method
we call (by its SDK name), and each answer field we read, with the types the SDK declares
(and ``None``, which any field may be). ``tests/cloud/test_sdk_shapes.py`` checks every
name here against the installed SDK. Requests are the SDK's own models, built where the
call is made.

Owns: those shapes. Never does: calls, clients, retries, mapping to our results.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

__all__ = [
    "AssumeRoleBody",
    "CloudAssistantStatusBody",
    "CreateSecretBody",
    "DecryptBody",
    "DeleteSecretBody",
    "DescribeInstancesBody",
    "DescribeSecretBody",
    "EcsSdk",
    "EncryptBody",
    "GenerateDataKeyBody",
    "KmsKeySdk",
    "KmsSdk",
    "ListSecretVersionIdsBody",
    "ListSecretsBody",
    "ReceiptBody",
    "Response",
    "SdkAssistantStatus",
    "SdkAssistantStatusSet",
    "SdkCredentials",
    "SdkEipAddress",
    "SdkInstance",
    "SdkInstanceTag",
    "SdkInstanceTags",
    "SdkInstances",
    "SdkIpAddresses",
    "SdkSecret",
    "SdkSecretList",
    "SdkStages",
    "SdkTag",
    "SdkTags",
    "SdkVersion",
    "SdkVersionIds",
    "SdkVpcAttributes",
    "StsSdk",
]

B_co = TypeVar("B_co", covariant=True)


class Response(Protocol[B_co]):
    """An SDK response: we read only its body."""

    @property
    def body(self) -> B_co: ...


# --- KMS answers ------------------------------------------------------------------------------


class SdkTag(Protocol):
    tag_key: str | None
    tag_value: str | None


class SdkTags(Protocol):
    """The ``Tags`` container of DescribeSecret and of a ListSecrets row."""

    tag: Sequence[SdkTag] | None


class ReceiptBody(Protocol):
    """The answer of a call whose only news is its RequestId."""

    request_id: str | None


class CreateSecretBody(ReceiptBody, Protocol):
    secret_name: str | None
    arn: str | None
    version_id: str | None
    automatic_rotation: str | None
    next_rotation_date: str | None


class DescribeSecretBody(ReceiptBody, Protocol):
    secret_name: str | None
    arn: str | None
    secret_type: str | None
    description: str | None
    create_time: str | None
    update_time: str | None
    extended_config: str | None
    automatic_rotation: str | None
    rotation_interval: str | None
    last_rotation_date: str | None
    next_rotation_date: str | None
    planned_delete_time: str | None
    dkmsinstance_id: str | None
    encryption_key_id: str | None
    tags: SdkTags | None


class SdkSecret(Protocol):
    """One row of ListSecrets."""

    secret_name: str | None
    secret_type: str | None
    create_time: str | None
    update_time: str | None
    planned_delete_time: str | None
    tags: SdkTags | None


class SdkSecretList(Protocol):
    secret: Sequence[SdkSecret] | None


class ListSecretsBody(ReceiptBody, Protocol):
    secret_list: SdkSecretList | None
    page_number: int | None
    page_size: int | None
    total_count: int | None


class SdkStages(Protocol):
    version_stage: Sequence[str] | None


class SdkVersion(Protocol):
    """One row of ListSecretVersionIds."""

    version_id: str | None
    version_stages: SdkStages | None
    create_time: str | None


class SdkVersionIds(Protocol):
    version_id: Sequence[SdkVersion] | None


class ListSecretVersionIdsBody(ReceiptBody, Protocol):
    version_ids: SdkVersionIds | None


class DeleteSecretBody(ReceiptBody, Protocol):
    planned_delete_time: str | None


class KmsSdk(Protocol):
    """The methods of ``alibabacloud_kms20160120.client.Client`` that we call.

    GetSecretValue is not one of them, on purpose: the bot never decrypts a secret.
    """

    async def create_secret_async(self, request: object, /) -> Response[CreateSecretBody]: ...

    async def describe_secret_async(self, request: object, /) -> Response[DescribeSecretBody]: ...

    async def list_secrets_async(self, request: object, /) -> Response[ListSecretsBody]: ...

    async def list_secret_version_ids_async(
        self, request: object, /
    ) -> Response[ListSecretVersionIdsBody]: ...

    async def rotate_secret_async(self, request: object, /) -> Response[ReceiptBody]: ...

    async def put_secret_value_async(self, request: object, /) -> Response[ReceiptBody]: ...

    async def delete_secret_async(self, request: object, /) -> Response[DeleteSecretBody]: ...

    async def restore_secret_async(self, request: object, /) -> Response[ReceiptBody]: ...

    async def update_secret_rotation_policy_async(
        self, request: object, /
    ) -> Response[ReceiptBody]: ...


class EncryptBody(ReceiptBody, Protocol):
    ciphertext_blob: str | None
    key_id: str | None


class DecryptBody(ReceiptBody, Protocol):
    plaintext: str | None
    key_id: str | None


class GenerateDataKeyBody(EncryptBody, Protocol):
    plaintext: str | None


class KmsKeySdk(Protocol):
    """The cryptographic methods of the KMS client that wrap the bot's own data key."""

    async def encrypt_async(self, request: object, /) -> Response[EncryptBody]: ...

    async def decrypt_async(self, request: object, /) -> Response[DecryptBody]: ...

    async def generate_data_key_async(
        self, request: object, /
    ) -> Response[GenerateDataKeyBody]: ...


# --- ECS answers ------------------------------------------------------------------------------


class SdkIpAddresses(Protocol):
    ip_address: Sequence[str] | None


class SdkVpcAttributes(Protocol):
    private_ip_address: SdkIpAddresses | None


class SdkEipAddress(Protocol):
    """The elastic IP address associated with an instance (empty strings when none)."""

    ip_address: str | None


class SdkInstanceTag(Protocol):
    tag_key: str | None
    tag_value: str | None


class SdkInstanceTags(Protocol):
    tag: Sequence[SdkInstanceTag] | None


class SdkInstance(Protocol):
    """One row of DescribeInstances."""

    instance_id: str | None
    instance_name: str | None
    status: str | None
    ostype: str | None
    osname: str | None
    zone_id: str | None
    vpc_attributes: SdkVpcAttributes | None
    public_ip_address: SdkIpAddresses | None
    eip_address: SdkEipAddress | None
    tags: SdkInstanceTags | None


class SdkInstances(Protocol):
    instance: Sequence[SdkInstance] | None


class DescribeInstancesBody(ReceiptBody, Protocol):
    instances: SdkInstances | None
    next_token: str | None


class SdkAssistantStatus(Protocol):
    instance_id: str | None
    cloud_assistant_status: str | None


class SdkAssistantStatusSet(Protocol):
    instance_cloud_assistant_status: Sequence[SdkAssistantStatus] | None


class CloudAssistantStatusBody(ReceiptBody, Protocol):
    instance_cloud_assistant_status_set: SdkAssistantStatusSet | None


class EcsSdk(Protocol):
    """The methods of ``alibabacloud_ecs20140526.client.Client`` that we call."""

    async def describe_instances_async(
        self, request: object, /
    ) -> Response[DescribeInstancesBody]: ...

    async def describe_cloud_assistant_status_async(
        self, request: object, /
    ) -> Response[CloudAssistantStatusBody]: ...


# --- STS answers ------------------------------------------------------------------------------


class SdkCredentials(Protocol):
    """The temporary credentials of AssumeRole."""

    access_key_id: str | None
    access_key_secret: str | None
    security_token: str | None
    expiration: str | None


class AssumeRoleBody(ReceiptBody, Protocol):
    credentials: SdkCredentials | None


class StsSdk(Protocol):
    """The method of ``alibabacloud_sts20150401.client.Client`` that we call."""

    async def assume_role_async(self, request: object, /) -> Response[AssumeRoleBody]: ...
