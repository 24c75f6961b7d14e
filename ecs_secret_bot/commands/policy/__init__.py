"""The RAM-style policy engine: who may do what, from where, and why.

- ``engine``: decisions (explicit Deny wins, then an Allow is needed), guardrails;
- ``documents``: policy documents in the RAM JSON language, parsed and checked;
- ``conditions``: condition operators and keys; ``patterns``: wildcards of actions,
  resources and principals; ``builtins``: policies named like the RAM system policies;
- ``config``: the ``[access]`` table turned into an ``AccessConfig``.

Pure: documents, a request context and a clock in, a decision with its reasons out; no I/O.
"""

__all__: list[str] = []
