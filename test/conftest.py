"""Shared pytest fixtures: repository paths, the shared corpora, and recipe copies."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Dict, Optional

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the repository; tests that need it are skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared corpora folder {SHARED_DATA} is missing")
    return SHARED_DATA


@pytest.fixture(scope="session")
def mini_corpus_env(tmp_path_factory) -> Dict[str, str]:
    """Environment that makes the mini_speecht5 recipes generate their corpus once per test
    session, in a temporary folder instead of the repository."""
    return {"MINI_SPEECHT5": str(tmp_path_factory.mktemp("mini_corpus") / "mini_speecht5")}


def copy_recipe(corpus: str, task_dir: str, dest_root: Path) -> Path:
    """Make a working copy of ``egs2/<corpus>/<task_dir>`` under ``dest_root``.

    Regular files are copied; symlinks are recreated pointing at their absolute targets in
    the repository, so the copy runs the repository's driver, utils and local scripts while
    writing data/, dump/ and exp/ only under ``dest_root``.
    """
    src = REPO_ROOT / "egs2" / corpus / task_dir
    dst = dest_root / "egs2" / corpus / task_dir
    dst.mkdir(parents=True)
    for entry in src.iterdir():
        if entry.name in ("data", "dump", "exp", "downloads"):
            continue
        target = dst / entry.name
        if entry.is_symlink():
            target.symlink_to(entry.resolve())
        elif entry.is_dir():
            target.symlink_to(entry.resolve())
        else:
            target.write_bytes(entry.read_bytes())
            target.chmod(entry.stat().st_mode)
    return dst


def run_recipe(recipe: Path, *args: str, env: Optional[Dict[str, str]] = None, timeout: int = 900):
    """Run ``./run.sh args...`` in ``recipe`` and return the CompletedProcess (text mode)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        ["./run.sh", *args], cwd=recipe, env=full_env, capture_output=True, text=True, timeout=timeout
    )
