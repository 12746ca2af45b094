"""The base of the project's one exception hierarchy, and the index's own errors
(``assistant.errors`` adds the answering errors; ``assistant`` re-exports them all)."""


class AssistantError(Exception):
    """Base class of every error this project raises on purpose."""


class ConfigError(AssistantError):
    """A setting is missing, malformed or inconsistent with the index on disk."""


class IngestError(AssistantError):
    """An article or file could not be ingested."""


class LoadError(IngestError):
    """A file (or one record inside it) could not be read as an article."""

    def __init__(self, message: str, source: str = "", line: int | None = None) -> None:
        self.message = message
        self.source = source
        self.line = line
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}" if where else message)


class StoreError(AssistantError):
    """The vector store could not be reached or is in an unexpected state."""


class StoreUnavailableError(StoreError):
    """A server the assistant keeps its state in (the Chroma server, Redis) could not be
    reached, timed out or failed. Nothing is wrong with the request: the same call succeeds
    once the server is back, with no restart."""
