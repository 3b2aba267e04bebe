"""Shared pytest fixtures: repository paths, the shared corpora, and the mini corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import pytest

from repo_testing import REPO_ROOT, SHARED_DATA


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
