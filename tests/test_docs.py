"""Docs that cannot drift: help examples, man pages, README commands, CI script, lazy imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def commands() -> dict[str, object]:
    import typer

    from dlcli.cli.app import app

    return dict(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def test_every_command_has_help_ending_with_an_example() -> None:
    for name, command in commands().items():
        help_text = (command.help or "").strip()  # type: ignore[attr-defined]
        assert help_text.splitlines()[-1].startswith(f"Example: dlcli {name}"), name


def test_man_pages_are_up_to_date() -> None:
    from dlcli.cli.manpage import render_all

    pages = render_all()
    assert set(pages) == {"dlcli.1", *(f"dlcli-{name}.1" for name in commands())}
    for name, text in pages.items():
        path = ROOT / "man" / name
        assert path.exists() and path.read_text() == text, f"man/{name} is stale: run python -m dlcli.cli.gendocs"


def _can_build_in_place() -> bool:
    """Whether the venv's setuptools can build a wheel by itself (older ones need ``wheel``)."""
    import importlib.metadata
    import importlib.util

    if importlib.util.find_spec("setuptools") is None:
        return False
    major, minor = (int(p) for p in importlib.metadata.version("setuptools").split(".")[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


def test_the_wheel_installs_every_man_page_and_train_lists_every_config_key(tmp_path: Path) -> None:
    import zipfile

    from dlcli.config import settings

    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)]
    if _can_build_in_place():
        build.append("--no-build-isolation")  # the venv's own setuptools: quicker, no index needed
    built = subprocess.run(build, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("dlcli-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        pages = {Path(n).name: n for n in archive.namelist() if "/data/share/man/man1/" in n}
        assert set(pages) == {"dlcli.1", *(f"dlcli-{name}.1" for name in commands())}
        train = archive.read(pages["dlcli-train.1"]).decode()
    for key in settings():
        assert f"\\fB{key}\\fR = " in train, key


def test_man_page_renders_with_man() -> None:
    import shutil

    if shutil.which("man") is None:
        pytest.skip("man is not installed")
    result = subprocess.run(
        ["man", "-l", str(ROOT / "man" / "dlcli-train.1")],
        capture_output=True,
        text=True,
        env={"MANPAGER": "cat", "PAGER": "cat", "COLUMNS": "100", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0 and "--batch-size" in result.stdout.replace("\u2010", "-")


def test_readme_starts_with_the_two_commands_and_ci_runs_the_second() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = [b.split("```", 1)[0].strip() for b in readme.split("```sh\n")[1:3]]
    assert "dlcli train" in blocks[0] and "dlcli eval" in blocks[0] and "dlcli predict" in blocks[0]
    assert "pytest" in blocks[1]
    assert blocks[1] in (ROOT / ".ci" / "run").read_text()


def test_readme_documents_exit_codes() -> None:
    readme = (ROOT / "README.md").read_text()
    for code in ("| 0 |", "| 1 |", "| 2 |", "| 130 |"):
        assert code in readme


def test_help_imports_none_of_the_heavy_libraries() -> None:
    code = (
        "import sys\nfrom dlcli.cli.app import main\nmain(['--help'])\n"
        "print(sorted(m for m in ('boto3', 'h5py', 'botocore', 'pyarrow', 'numpy') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_bash_completion_script() -> None:
    import os

    env = {**os.environ, "_DLCLI_COMPLETE": "source_bash"}
    result = subprocess.run([sys.executable, "-m", "dlcli"], capture_output=True, text=True, env=env)
    assert "complete" in result.stdout and "_DLCLI_COMPLETE" in result.stdout


def test_configuration_reference_lists_every_key() -> None:
    from dlcli.config import SECTIONS, all_keys

    text = (ROOT / "docs" / "configuration.md").read_text()
    for section in SECTIONS:
        assert f"## `[{section}]`" in text
    for key in all_keys():
        section, name = key.split(".")
        block = text.split(f"## `[{section}]`", 1)[1].split("\n## ", 1)[0]
        assert f"| `{name}` |" in block, key


def test_configuration_reference_is_generated_from_the_schema() -> None:
    from dlcli.cli.configdoc import render

    committed = (ROOT / "docs" / "configuration.md").read_text()
    assert committed == render(), "docs/configuration.md is stale: run python -m dlcli.cli.gendocs"


def test_init_template_is_the_schema(tmp_path: Path) -> None:
    """Every key, with its help and its default, and nothing the loader would reject."""
    from dlcli.config import Config, all_keys, load_config, settings
    from dlcli.workflows.scaffold import render_config

    text = render_config(None)
    path = tmp_path / "dlcli.toml"
    path.write_text(text)
    assert load_config(path, environ={}).to_dict() == Config().to_dict()
    for key, spec in settings().items():
        section, name = key.split(".")
        block = text.split(f"[{section}]", 1)[1].split("\n[", 1)[0]
        assert f"\n{name} = " in block, key
        assert spec.help[1:40] in block, key
    settings_part, search_part = text.split("\n[tune]\n")
    assert len(all_keys()) == sum(
        1 for line in settings_part.splitlines() if " = " in line and not line.startswith("#")
    )
    # The default search space is live, not commented out: `dlcli tune` works on a fresh init.
    assert 'train.lr = "loguniform(' in search_part


def test_help_names_the_registered_choices() -> None:
    from typer.testing import CliRunner

    from dlcli.cli.app import app
    from dlcli.nn import ACTIVATIONS, OPTIMIZERS

    text = " ".join(CliRunner().invoke(app, ["train", "--help"]).stdout.split())
    assert "Optimizer: " + ", ".join(OPTIMIZERS.names()) + "." in text
    assert all(name in text for name, act in ACTIVATIONS.items() if act.elementwise)
    assert "{choices:" not in text


def example_commands() -> list[tuple[str, str]]:
    """``(file, command line)`` for every ``dlcli …`` line in a code block of README.md and docs/."""
    import re

    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        in_block = False
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.lstrip().startswith("```"):
                in_block = not in_block
                continue
            text = re.sub(r"^\s*(\$\s+)?", "", line) if in_block else ""
            for part in re.split(r"\s*(?:&&|\|\||;|\|)\s*", text):
                part = re.sub(r"^(\w+=\S+\s+)+", "", part)  # VAR=value before the command
                if part.startswith(("dlcli ", "mpiexec -n 4 dlcli ")):
                    found.append((path.name, part.split(" #")[0].strip()))
    return found


@pytest.mark.parametrize(("where", "line"), example_commands())
def test_every_documented_command_parses(where: str, line: str) -> None:
    """Each example's options exist for its command and its s3:// URLs are valid ones."""
    import shlex

    import typer

    from dlcli.cli.app import app
    from dlcli.remote.url import parse_remote

    words = shlex.split(line.replace("…", "x"))
    words = words[words.index("dlcli") + 1 :]
    group = typer.main.get_command(app)
    while words and words[0].startswith("--"):  # global options: --debug, --version
        words = words[1:]
    if not words or words[0] in ("--help", "-h"):
        return
    command = group.commands.get(words[0])  # type: ignore[attr-defined]
    assert command is not None, f"{where}: unknown command in {line!r}"
    parent = group.make_context("dlcli", [words[0]], resilient_parsing=True)
    command.make_context(words[0], words[1:], parent=parent)  # raises on an unknown option or a missing value
    for word in words:
        for url in (w for w in word.split("=") if w.startswith("s3://")):
            parse_remote(url)  # raises on a bucket name S3 would refuse


def test_the_example_scan_finds_the_examples() -> None:
    # An extraction that silently found nothing would make the test above pass vacuously.
    assert len(example_commands()) >= 20
    assert any(line.startswith("dlcli push") and "s3://" in line for _, line in example_commands())
