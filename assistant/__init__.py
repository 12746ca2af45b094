"""Getting answers out of the news index: retrieve → answer → cite → present."""

from assistant.settings import Settings
from index.errors import AssistantError, ConfigError, IngestError, LoadError, StoreError

__all__ = ["AssistantError", "ConfigError", "IngestError", "LoadError", "Settings", "StoreError"]
