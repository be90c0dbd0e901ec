"""Shared pytest fixtures. Area-specific fixtures live in tests/<area>/conftest.py."""

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Table copies and fetched objects go to a temporary cache, never the user's ~/.cache."""
    os.environ["DLCLI_CACHE_DIR"] = str(tmp_path_factory.mktemp("dlcli-cache"))
