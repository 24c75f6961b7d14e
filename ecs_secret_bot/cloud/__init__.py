"""The cloud: the gateway protocol of ``commands.gateway``, implemented over the real SDKs.

Owns: the Alibaba Cloud SDK clients (KMS, ECS), endpoints, retries, the mapping of SDK
exceptions to ``CloudError``, and the thread loop the SDK calls run on.
Never does: business rules (who may do what, approvals), storage, anything Slack.

- ``gateway``: ``AlibabaCloudGateway``, the one implementation of ``CloudGateway``: the
  clients of each region, composing the calls below;
- ``kms``, ``ecs``: each call, naming its SDK method and request model, and the mapping
  of its answer to the typed results of ``commands.gateway``;
- ``sdk``: the typed face of the untyped SDK (the client methods we call, the fields we read);
- ``retry``: ``RetryPolicy`` and the loop that runs one call under it;
- ``errors``: SDK exceptions turned into ``CloudError``s that say what to do;
- ``sdk_loop``: the event loop, on its own thread, where every SDK call runs.
"""

__all__: list[str] = []
