"""Shared pytest fixtures. Area-specific fixtures live in tests/<area>/conftest.py."""

import os
import signal

import pytest

# A suite started in the background (`cmd &`, nohup, some CI runners) inherits SIGINT ignored,
# and so would every dlcli it starts: the Ctrl-C tests would then test nothing. Ctrl-C is
# what they test, so give this process (and through exec, its children) Python's handler.
signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Table copies and fetched objects go to a temporary cache, never the user's ~/.cache."""
    os.environ["DLCLI_CACHE_DIR"] = str(tmp_path_factory.mktemp("dlcli-cache"))
