"""The cloud: the gateway protocol of ``commands.gateway``, implemented over the real SDKs.

Owns: the Alibaba Cloud SDK clients (KMS, ECS), endpoints, retries, the mapping of SDK
exceptions to ``CloudError``, and the thread loop the SDK calls run on.
Never does: business rules (who may do what, approvals), storage, anything Slack.

- ``gateway``: ``AlibabaCloudGateway``, the one implementation of ``CloudGateway``;
- ``errors``: SDK exceptions turned into ``CloudError``s that say what to do;
- ``sdk_loop``: the event loop, on its own thread, where every SDK call runs.
"""

__all__: list[str] = []
