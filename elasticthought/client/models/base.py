"""The base of the SDK's result models: the API's public shapes, read leniently.

Why the SDK has its own models instead of importing `services.api.schemas`: those validate
*requests* and forbid unknown fields, which is right for a server and wrong for a client; a client
must keep working against a newer server that added a field to an answer. They also pull in
server-side modules, and the CLI should start without them. The price is a second copy of each
shape; tests/unit/client/test_models_match_spec.py compares every SDK result model with the
response schemas of the generated OpenAPI document, so a field the server adds or renames without
the SDK following fails a test.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ClientModel(BaseModel):
    """Frozen; fields the server sends that this SDK version does not know are kept, not refused."""

    model_config = ConfigDict(frozen=True, extra="allow")
