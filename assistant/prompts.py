"""Prompt templates: plain-text files loaded by name.

The templates are written in the repository's top-level ``prompts/`` folder and ship in the
package as ``assistant/prompt_templates/`` (a link to that folder in a checkout, its files in
a wheel), read through :mod:`importlib.resources`, so a checkout, an editable install and an
installed wheel all find them. The settings' ``prompts_dir`` names a folder of one's own.

A template holds a system part and a user part, split by a line ``=== user ===``. Values
go in at ``{{name}}``; they are inserted in one pass, so text inside a value (an article that
happens to contain ``{{question}}``) is never itself substituted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from index.errors import ConfigError

PACKAGE, FOLDER = "assistant", "prompt_templates"
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


def packaged() -> Traversable:
    """The folder of templates shipped in the package."""
    return files(PACKAGE).joinpath(FOLDER)


@lru_cache(maxsize=32)
def load_prompt(name: str, folder: Path | None = None) -> Prompt:
    """The template ``<name>.md`` from ``folder`` (the settings' ``prompts_dir``), else the
    packaged one."""
    source: Traversable = Path(folder) if folder is not None else packaged()
    if not source.joinpath(f"{name}.md").is_file():
        where = f"the folder {folder} (prompts_dir)" if folder is not None else "the package"
        raise ConfigError(
            f"prompt template {name}.md is missing from {where}: point ASSISTANT_PROMPTS_DIR "
            "at a folder holding answer.md, condense.md and refuse.md, or reinstall the package"
        )
    text = source.joinpath(f"{name}.md").read_text(encoding="utf-8")
    parts = _SPLIT.split(text, maxsplit=1)
    system, user = (parts[0], parts[1]) if len(parts) == 2 else ("", parts[0])
    return Prompt(name, system.strip(), user.strip())
