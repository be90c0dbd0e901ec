"""The training data of a run: ``data.path`` read (through the cache), split and fitted,
once per machine and rank as a data-parallel job needs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dlcli.config import Config, parse_size
from dlcli.data.prepare import TrainingData, prepare_training_data
from dlcli.errors import ConfigError, setting
from dlcli.parallel import Solo, World, agreed, root_first, shared

from .remotes import sync_options

__all__ = ["memory_budget", "read_training_data"]


def read_training_data(cfg: Config, seed: np.random.SeedSequence, world: World | None = None) -> TrainingData:
    """Read ``data.path`` (an ``s3://`` URL through the cache), split it and fit the schema.

    With several ranks: the first rank on each machine fetches the data and builds the table
    cache, then the others reuse them; rank 0 fits the schema, which is broadcast; every rank
    then encodes (in memory within its share of the machine's memory budget, else streamed).
    """
    world = world or Solo()
    if not cfg.data.path:
        raise ConfigError(
            "No training data given.",
            hint=f"Pass {setting('data.path', 'FILE')} {setting('data.target', 'COLUMN')}, or run 'dlcli init'.",
        )
    from dlcli.data.prepare import fit_training_schema, open_store
    from dlcli.data.schema import Schema
    from dlcli.data.sources import file_sha256
    from dlcli.remote.settings import cache_dir
    from dlcli.workflows.inference import localize

    options = sync_options(cfg)
    cache = cache_dir(options)
    reading = {
        "cache_dir": cache,
        "features": cfg.data.features or None,
        "ignore": cfg.data.ignore or None,
        "delimiter": cfg.data.delimiter,
        "dtype": cfg.model.dtype,
    }
    fitting = {"task": cfg.data.task, "val_split": cfg.data.val_split, **reading}

    def local_copy() -> str | Path:
        path = localize(cfg.data.path, remote_options=options)
        if world.size > 1:  # build the table cache once per machine
            open_store(path, cfg.data.target, sha256=file_sha256(path), **reading)  # type: ignore[arg-type]
        return path

    path = root_first(world, local_copy)
    schema = None
    if world.size > 1:
        fitted = shared(
            world,
            lambda: fit_training_schema(path, cfg.data.target, rng=np.random.default_rng(seed), **fitting).to_dict(),  # type: ignore[arg-type]
        )
        schema = Schema.from_dict(fitted)
    return agreed(
        world,
        lambda: prepare_training_data(
            path,
            cfg.data.target,
            rng=np.random.default_rng(seed),
            memory_limit=memory_budget(cfg.data.memory_limit) // world.local_size,
            schema=schema,
            **fitting,  # type: ignore[arg-type]
        ),
    )


def memory_budget(limit: str) -> int:
    """Bytes for the encoded training inputs: ``data.memory_limit``, or half of the memory
    this process may use (the cgroup limit in a container, else the machine's RAM)."""
    size = parse_size(limit)
    if size is not None:
        return size
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        text = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if text.isdigit():
            physical = min(physical, int(text))
    except OSError:
        pass
    return physical // 2
