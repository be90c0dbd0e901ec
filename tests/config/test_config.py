"""Config resolution: defaults < file < DLCLI_* env < flags, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlcli.config import Config, ConfigError, all_keys, load_config, parse_set_options, to_toml


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dlcli.toml"
    path.write_text(text)
    return path


def test_defaults_without_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config(None, {}, environ={})
    assert cfg == Config()
    assert cfg.source == ""


def test_order_file_then_env_then_flags(tmp_path: Path) -> None:
    path = write(tmp_path, "[train]\nepochs = 7\nlr = 0.5\nbatch_size = 16\n")
    cfg = load_config(path, {"train.lr": "0.1"}, environ={"DLCLI_TRAIN_LR": "0.2", "DLCLI_TRAIN_BATCH_SIZE": "8"})
    assert (cfg.train.epochs, cfg.train.batch_size, cfg.train.lr) == (7, 8, 0.1)


def test_relative_data_path_is_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    path = tmp_path / "proj" / "dlcli.toml"
    path.write_text('[data]\npath = "data/x.csv"\n')
    assert load_config(path, environ={}).data.path == str(tmp_path / "proj" / "data" / "x.csv")
    assert load_config(path, {"data.path": "y.csv"}, environ={}).data.path == "y.csv"


def test_directory_argument_reads_its_dlcli_toml(tmp_path: Path) -> None:
    write(tmp_path, "[train]\nepochs = 3\n")
    assert load_config(tmp_path, environ={}).train.epochs == 3


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"train.epocs": "3"}, "Unknown config key 'train.epocs' in --set train.epocs. Did you mean 'train.epochs'?"),
        ({"trian.epochs": "3"}, "Unknown config section 'trian' in --set trian.epochs. Did you mean 'train'?"),
        (
            {"train.optimizer": "adma"},
            "train.optimizer must be one of: sgd, momentum, nesterov, adam, adamw, rmsprop; got 'adma'. "
            "Did you mean 'adam'?",
        ),
        ({"train.lr": "-1"}, "train.lr must be > 0, got -1."),
        ({"train.epochs": "2.5"}, "train.epochs must be an integer, got '2.5'."),
        ({"data.val_split": "1"}, "data.val_split must be >= 0 and < 1, got 1."),
        ({"model.batch_norm": "maybe"}, "model.batch_norm must be true or false, got 'maybe'."),
        ({"model.hidden": "64,0"}, "model.hidden must list positive layer widths, got [64, 0]."),
        ({"model.hidden": "64,,32"}, "model.hidden has an empty item in '64,,32'."),
        ({"model.hidden": "64,"}, "model.hidden has an empty item in '64,'."),
        ({"train.lr": "inf"}, "train.lr must be a finite number, got 'inf'."),
        ({"train.lr": "1e400"}, "train.lr must be a finite number, got '1e400'."),
        ({"train.weight_decay": "nan"}, "train.weight_decay must be a finite number, got 'nan'."),
        ({"train.clip_norm": "-inf"}, "train.clip_norm must be a finite number, got '-inf'."),
        ({"data.delimiter": ""}, "data.delimiter must be one character other than a line break or a quote, got ''."),
        (
            {"data.delimiter": ";;"},
            "data.delimiter must be one character other than a line break or a quote, got ';;'.",
        ),
        ({"data.features": "a,b,a"}, "data.features lists 'a' more than once."),
        ({"data.ignore": "id,id"}, "data.ignore lists 'id' more than once."),
    ],
)
def test_bad_values_name_the_key(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, overrides, environ={})
    assert info.value.message == message


def test_a_bad_value_from_the_environment_or_a_file_says_where_it_was_set(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, {}, environ={"DLCLI_TRAIN_EPOCHS": "abc"})
    assert info.value.message == "environment variable DLCLI_TRAIN_EPOCHS: train.epochs must be an integer, got 'abc'."
    config = tmp_path / "dlcli.toml"
    config.write_text("[train]\nlr = -1\n")
    with pytest.raises(ConfigError) as info:
        load_config(config, {}, environ={})
    assert info.value.message == f"{config}: train.lr must be > 0, got -1."
    # A flag overriding the bad variable wins before anything is checked.
    assert load_config(None, {"train.epochs": "5"}, environ={"DLCLI_TRAIN_EPOCHS": "abc"}).train.epochs == 5


def test_an_empty_list_flag_is_the_empty_list() -> None:
    assert load_config(None, {"model.hidden": ""}, environ={}).model.hidden == []


@pytest.mark.parametrize("body", ["lr = inf", "weight_decay = nan", "lr = -inf"])
def test_non_finite_numbers_in_a_file_are_refused(tmp_path: Path, body: str) -> None:
    with pytest.raises(ConfigError, match="must be a finite number"):
        load_config(write(tmp_path, f"[train]\n{body}\n"), environ={})


def test_a_file_with_a_byte_order_mark_reads(tmp_path: Path) -> None:
    path = tmp_path / "dlcli.toml"
    path.write_bytes("\ufeff[train]\nepochs = 4\n".encode())
    assert load_config(path, environ={}).train.epochs == 4


@pytest.mark.parametrize("nested", ["[" * 3000 + "]" * 3000, "{a = " * 3000 + "1" + "}" * 3000])
def test_deeply_nested_toml_is_a_config_error(tmp_path: Path, nested: str) -> None:
    with pytest.raises(ConfigError, match="nests arrays or tables too deeply"):
        load_config(write(tmp_path, f"x = {nested}\n"), environ={})


def test_unknown_key_in_file_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[model]\nhiden = [8]\n")
    with pytest.raises(
        ConfigError, match=r"Unknown config key 'model.hiden' in .*dlcli.toml. Did you mean 'model.hidden'\?"
    ):
        load_config(path, environ={})


def test_unknown_env_key_is_an_error_but_other_dlcli_vars_are_not() -> None:
    with pytest.raises(ConfigError, match="environment variable DLCLI_TRAIN_EPOCS"):
        load_config(None, environ={"DLCLI_TRAIN_EPOCS": "3"})
    load_config(None, environ={"DLCLI_DEBUG": "1", "DLCLI_CACHE_DIR": "/tmp/x"})


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, "[train\nepochs = 3\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(path, environ={})


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Config file '.*nope.toml' not found."):
        load_config(tmp_path / "nope.toml", environ={})


def test_set_options_parse() -> None:
    assert parse_set_options(["train.epochs=5", "model.hidden = 8,4"]) == {"train.epochs": "5", "model.hidden": "8,4"}
    with pytest.raises(ConfigError, match=r"--set expects section.key=value, got 'epochs'"):
        parse_set_options(["epochs"])


def test_every_key_round_trips_through_toml(tmp_path: Path) -> None:
    cfg = load_config(None, {"model.hidden": "8,4", "train.lr": "0.25", "data.target": 'quo"te'}, environ={})
    path = write(tmp_path, to_toml(cfg))
    again = load_config(path, environ={})
    assert again.to_dict() == cfg.to_dict()
    assert len(all_keys()) == sum(len(v) for v in cfg.to_dict().values())


@given(epochs=st.integers(1, 10**6), lr=st.floats(1e-8, 10.0), hidden=st.lists(st.integers(1, 4096), max_size=5))
def test_flag_strings_coerce_to_typed_values(epochs: int, lr: float, hidden: list[int]) -> None:
    cfg = load_config(
        None,
        {"train.epochs": str(epochs), "train.lr": repr(lr), "model.hidden": ",".join(map(str, hidden))},
        environ={},
    )
    assert (cfg.train.epochs, cfg.train.lr, cfg.model.hidden) == (epochs, lr, hidden)


def test_every_path_in_a_file_is_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    path = tmp_path / "proj" / "dlcli.toml"
    path.write_text('[output]\nout = "r"\n[remote]\ncache_dir = "c"\nurl = "remote"\npush_to = "s3://b/runs"\n')
    cfg = load_config(path, environ={})
    base = tmp_path / "proj"
    assert (cfg.output.out, cfg.remote.cache_dir, cfg.remote.url) == (
        str(base / "r"),
        str(base / "c"),
        str(base / "remote"),
    )
    assert cfg.remote.push_to == "s3://b/runs"


def test_sizes_parse_with_decimal_and_binary_units() -> None:
    from dlcli.config import parse_size

    assert parse_size("auto") is None
    assert parse_size("2GiB") == 2 * 2**30 and parse_size("500MB") == 500 * 10**6
    assert parse_size("1.5g") == 1_500_000_000 and parse_size(" 64 mib ") == 64 * 2**20 and parse_size("4096") == 4096
    for bad in ("lots", "-1GB", "2 GiBs", ""):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_the_automatic_memory_budget_is_half_of_what_the_process_may_use() -> None:
    import os

    from dlcli.workflows.trainingdata import memory_budget

    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert 0 < memory_budget("auto") <= physical // 2
    assert memory_budget("10MB") == 10**7


def test_a_password_in_an_endpoint_url_is_never_printed_or_saved(tmp_path: Path) -> None:
    from dlcli.config import portable

    cfg = load_config(None, {"remote.endpoint_url": "http://me:s3cret@127.0.0.1:9000"}, environ={})
    assert cfg.remote.endpoint_url == "http://me:s3cret@127.0.0.1:9000"  # used to connect, as given
    for text in (to_toml(cfg), to_toml(cfg, relative_to=tmp_path), str(portable(cfg, tmp_path))):
        assert "s3cret" not in text and "http://me:***@127.0.0.1:9000" in text
