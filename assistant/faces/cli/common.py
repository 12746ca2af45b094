"""What the CLI's commands share: the consoles, the common options, JSON output."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from assistant import Settings

out = Console()
err = Console(stderr=True)

CollectionOpt = Annotated[
    str | None, typer.Option("--collection", "-c", help="Chroma collection (default: settings)")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def settings() -> Settings:
    return Settings.load()


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")
