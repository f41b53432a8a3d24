"""Choose the event store adapter from the settings: the only place that knows which is which."""

from __future__ import annotations

from shared.eventstore.port import EventStore
from shared.settings import Mode, Settings

SQLITE_FILE = "events.sqlite3"


async def open_event_store(settings: Settings) -> EventStore:
    """SQLite at `<data_dir>/events.sqlite3` in embedded mode, MongoDB in production.

    Adapters are imported here, not at the top, so that each mode loads only its own driver.
    """
    if settings.mode is Mode.EMBEDDED:
        from shared.eventstore.sqlite import open_sqlite_event_store

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return await open_sqlite_event_store(settings.data_dir / SQLITE_FILE)
    from shared.eventstore.mongo import open_mongo_event_store

    # The driver would otherwise wait 30 s for a server to come back before failing each call.
    timeout_ms = round(settings.mongo_timeout_s * 1000)
    return await open_mongo_event_store(settings.mongo_url, settings.mongo_db, serverSelectionTimeoutMS=timeout_ms)
