"""The wheel carries what the package reads at run time: the prompt templates (written in the
top-level prompts/ folder) load through importlib.resources from the installed package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from assistant.prompts import load_prompt, packaged

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = sorted(p.name for p in (ROOT / "prompts").glob("*.md") if p.name != "README.md")


def test_the_package_reads_the_repository_templates() -> None:
    assert TEMPLATES == ["answer.md", "condense.md", "refuse.md"]
    for name in TEMPLATES:
        assert packaged().joinpath(name).read_text(encoding="utf-8") == (
            ROOT / "prompts" / name
        ).read_text(encoding="utf-8")


def test_a_folder_of_ones_own(tmp_path: Path) -> None:
    (tmp_path / "condense.md").write_text("Rewrite.\n=== user ===\n{{question}}\n")
    assert load_prompt("condense", tmp_path).render(question="why?") == ("Rewrite.", "why?")


@pytest.mark.slow
def test_the_wheel_carries_the_prompts(tmp_path: Path) -> None:
    # built from a copy, so the checkout gets no build/ folder; offline: the build uses the
    # installed setuptools, not an isolated download
    src = tmp_path / "src"
    src.mkdir()
    for part in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / part, src / part)
    for part in ("assistant", "index", "prompts"):
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(ROOT / part, src / part, symlinks=True, ignore=ignore)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(src)],
        check=True, cwd=tmp_path, timeout=600,
    )  # fmt: skip
    wheel = next(tmp_path.glob("newsroom_assistant-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        for name in TEMPLATES:
            packed = zf.read(f"assistant/prompt_templates/{name}").decode("utf-8")
            assert packed == (ROOT / "prompts" / name).read_text(encoding="utf-8")
        for model in ("reader.json", "reader-e5.json"):  # the reader's model per encoder
            assert (
                zf.read(f"assistant/answering/{model}")
                == (ROOT / "assistant" / "answering" / model).read_bytes()
            )
    # imported from the wheel itself (a zip): the templates come through the resources API
    check = (
        "import assistant.prompts as p; t = p.packaged(); "
        f"assert str(t).startswith({str(wheel)!r}), t; "
        "print(p.load_prompt('answer').name, p.load_prompt('refuse').user[:30])"
    )
    env = {**os.environ, "PYTHONPATH": str(wheel)}
    out = subprocess.run(
        [sys.executable, "-c", check], env=env, cwd=tmp_path, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("answer ")
