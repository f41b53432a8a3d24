"""Where a webhook's signing secret lives: the tenant's blob store, never the event log.

The sender needs the secret itself (an HMAC key cannot be checked against a hash), yet every user of
the tenant reads its log through `/v1/events` and trusted integrations read the events exchange.
So the secret is written as a blob (`webhooks/<id>/secret`) before the webhook is registered and
deleted with it; the registration event only names the blob. Secrets are read through a small
cache: a webhook's secret never changes.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator

from shared.blobs import BlobStore

SECRET_BYTES = 32


def new_secret() -> str:
    """A generated secret: 256 random bits, shown to the user once."""
    return "whsec_" + secrets.token_hex(SECRET_BYTES)


def secret_path(webhook_id: str) -> str:
    return f"webhooks/{webhook_id}/secret"


async def save_secret(blobs: BlobStore, tenant_id: str, webhook_id: str, secret: str) -> str:
    path = secret_path(webhook_id)
    await blobs.put(tenant_id, path, _once(secret.encode()), content_type="text/plain")
    return path


class SecretCache:
    """Reads secrets from the blob store, keeping the last `max_entries` (they never change)."""

    def __init__(self, blobs: BlobStore, *, max_entries: int = 4096) -> None:
        self.blobs = blobs
        self.max_entries = max_entries
        self._cache: OrderedDict[tuple[str, str], str] = OrderedDict()

    async def get(self, tenant_id: str, path: str) -> str:
        """The secret at `path`; raises `BlobNotFound` when it is gone (the webhook was deleted)."""
        key = (tenant_id, path)
        found = self._cache.get(key)
        if found is None:
            found = b"".join([chunk async for chunk in self.blobs.get(tenant_id, path)]).decode()
            self._cache[key] = found
            while len(self._cache) > self.max_entries:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        return found


async def _once(payload: bytes) -> AsyncIterator[bytes]:
    yield payload
