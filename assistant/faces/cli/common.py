"""What the CLI's commands share: the consoles, the common options, JSON output."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from assistant import Settings, answer_backends

out = Console()
err = Console(stderr=True)

CollectionOpt = Annotated[
    str | None, typer.Option("--collection", "-c", help="Chroma collection (default: settings)")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def backends_help() -> str:
    """How answers are written, read from the backend registry: the end of the --help of
    ``ask``, ``chat`` and ``eval``."""
    lines = [
        f"ASSISTANT_ANSWERER={b.name}: {b.summary} (the default)."
        for b in answer_backends()
        if not b.writes_with_llm
    ]
    lines.append("ASSISTANT_ANSWERER=llm, with ASSISTANT_LLM_BACKEND one of:")
    for b in answer_backends():
        if b.writes_with_llm:
            where = f"; default URL {b.default_url}" if b.default_url else ""
            lines.append(f"  {b.name}: {b.summary} (ASSISTANT_LLM_MODEL: {b.model_help}{where})")
    return "\n\n".join(lines)


def settings() -> Settings:
    return Settings.load()


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")
