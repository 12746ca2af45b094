"""The HTTP API (FastAPI): ``assistant serve``."""

from assistant.faces.api.app import create_app, serve

__all__ = ["create_app", "serve"]
