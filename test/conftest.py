"""Shared pytest fixtures: repository paths, the shared corpora, and the mini corpus."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, Iterator

import pytest

from repo_testing import REPO_ROOT, SHARED_DATA


@pytest.fixture(autouse=True)
def _root_logger_restored() -> Iterator[None]:
    """Entry points run in-process (``main(argv)``) call ``logging.basicConfig`` with the stream that
    pytest captured for that test; left on the root logger, that handler writes to a closed stream in
    later tests ("--- Logging error ---"). Put the root logger back as it was after every test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


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
