"""Prompt templates: plain-text files in the repository's ``prompts/`` folder, loaded by name.

A template holds a system part and a user part, split by a line ``=== user ===``. Values
go in at ``{{name}}``; they are inserted in one pass, so text inside a value (an article that
happens to contain ``{{question}}``) is never itself substituted.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from index.errors import ConfigError

PROMPTS_ENV = "ASSISTANT_PROMPTS_DIR"
# assistant/ sits beside prompts/ in the repository, and an editable install imports
# assistant/ from there, so this finds the folder for both a checkout and `pip install -e`.
DEFAULT_DIR = Path(__file__).resolve().parents[1] / "prompts"
_SPLIT = re.compile(r"^=== user ===[ \t]*$", re.MULTILINE)
_SLOT = re.compile(r"\{\{\s*(\w+)\s*\}\}")


@dataclass(frozen=True)
class Prompt:
    name: str
    system: str
    user: str

    def render(self, **values: str) -> tuple[str, str]:
        """(system, user) with every ``{{name}}`` filled; a missing value is an error."""
        return _fill(self.system, values, self.name), _fill(self.user, values, self.name)


def _fill(template: str, values: dict[str, str], name: str) -> str:
    def one(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise ConfigError(f"prompt {name!r} needs a value for {{{{{key}}}}}")
        return values[key]

    return _SLOT.sub(one, template).strip()


def prompts_dir() -> Path:
    """``$ASSISTANT_PROMPTS_DIR`` when set (own wording, other languages), else the repo's."""
    named = os.environ.get(PROMPTS_ENV)
    return Path(named) if named else DEFAULT_DIR


@lru_cache(maxsize=32)
def _read(path: Path) -> Prompt:
    text = path.read_text(encoding="utf-8")
    parts = _SPLIT.split(text, maxsplit=1)
    system, user = (parts[0], parts[1]) if len(parts) == 2 else ("", parts[0])
    return Prompt(path.stem, system.strip(), user.strip())


def load_prompt(name: str) -> Prompt:
    """The template ``prompts/<name>.md``."""
    path = prompts_dir() / f"{name}.md"
    if not path.is_file():
        raise ConfigError(
            f"prompt template {path} is missing: run from a checkout or an editable install "
            f"(pip install -e .), or point {PROMPTS_ENV} at a folder of templates"
        )
    return _read(path)
