"""Opening Chroma: an embedded ``PersistentClient`` under the data dir, or an ``HttpClient``
when a server host is configured. Telemetry is off; chromadb is imported only here, when a
client is made, so a process that never opens one never imports it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from index.errors import StoreError


def local_path(data_dir: Path | str) -> Path:
    """Where the embedded Chroma index of ``data_dir`` lives."""
    return Path(data_dir) / "chroma"


def make_client(
    data_dir: Path | str, host: str | None = None, port: int = 8000, fresh: bool = False
) -> Any:
    """A Chroma client: a server at ``host:port`` when a host is given, else embedded on disk.
    ``fresh``: an embedded client of its own, which loads the collections from disk again
    (chromadb otherwise hands out one shared instance per path and process)."""
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False, allow_reset=False)
    try:
        if host:
            return chromadb.HttpClient(host=host, port=port, settings=settings)
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        path = str(local_path(data_dir))
        if fresh:
            return _fresh_persistent_client(path, settings)
        return chromadb.PersistentClient(path=path, settings=settings)
    except Exception as exc:  # chromadb raises bare ValueError/ConnectError and friends
        where = f"the Chroma server at {host}:{port}" if host else f"the index under {data_dir}"
        raise StoreError(f"cannot open {where}: {exc}") from exc


def _fresh_persistent_client(path: str, settings: Any) -> Any:
    from chromadb.api import ServerAPI
    from chromadb.api.client import Client
    from chromadb.config import Settings, System

    system = System(
        Settings(**{**settings.model_dump(), "is_persistent": True, "persist_directory": path})
    )
    system.instance(ServerAPI)  # type: ignore[type-abstract]
    system.start()
    return Client.from_system(system)
