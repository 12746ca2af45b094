"""The command line: ``assistant --help`` is the manual."""

from assistant.faces.cli.main import app, main

__all__ = ["app", "main"]
