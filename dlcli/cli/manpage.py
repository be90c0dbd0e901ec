"""Man pages generated from the Typer command tree (``python -m dlcli.cli.manpage man/``).

A test regenerates them and fails when ``man/`` is stale, so the pages never drift from
``--help``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from dlcli import __version__

EXIT_STATUS = [
    ("0", "Success."),
    ("1", "Runtime failure: non-finite loss, remote error, I/O error."),
    ("2", "Invalid usage or input: flags, config, data or model file."),
    ("130", "Interrupted (Ctrl-C); training saves a checkpoint that --resume accepts."),
]
ENVIRONMENT = [
    ("DLCLI_<SECTION>_<KEY>", "Sets a config key, e.g. DLCLI_TRAIN_EPOCHS=50 (over dlcli.toml, under flags)."),
    ("DLCLI_DEBUG", "Set to 1 to show Python tracebacks on errors."),
    ("DLCLI_CACHE_DIR", "Cache for s3:// data and models (default ~/.cache/dlcli)."),
    ("AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL", "S3 endpoint when --endpoint-url and [remote].endpoint_url are unset."),
    ("AWS_PROFILE, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY", "Credentials, through boto3's default chain."),
    ("NO_COLOR", "Disable colour."),
]


def _esc(text: str) -> str:
    lines = []
    for line in text.replace("\\", "\\e").replace("-", "\\-").splitlines():
        lines.append("\\&" + line if line.startswith((".", "'")) else line)
    return "\n".join(lines)


def _paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in text.strip().split("\n\n") if p.strip()]


def _help_records(command: Any, kind: str) -> list[tuple[str, str]]:
    # The records --help prints, so a page shows exactly the spelling and metavars users see
    # (Typer 0.29 vendors its own Click; its parameters no longer carry a Click ``type``).
    ctx = command.context_class(command, info_name=command.name)
    records = []
    for param in command.params:
        if param.param_type_name != kind or getattr(param, "hidden", False):
            continue
        record = param.get_help_record(ctx)
        if record is not None:
            records.append(record)
    return records


def _option_lines(command: Any) -> list[str]:
    lines: list[str] = []
    for names, text in _help_records(command, "option"):
        lines += [".TP", f"\\fB{_esc(names)}\\fR", _esc(text or "")]
    return lines


def _argument_lines(command: Any) -> list[str]:
    lines: list[str] = []
    for param in command.params:
        if param.param_type_name == "argument":
            name = (param.metavar or param.name.upper()).strip("[]")
            lines += [".TP", f"\\fI{_esc(name)}\\fR", _esc(getattr(param, "help", "") or "")]
    return lines


def _usage(name: str, command: Any) -> str:
    args = " ".join(
        f"[{p.name.upper()}]" if not p.required else p.name.upper()
        for p in command.params
        if p.param_type_name == "argument"
    )
    return f"\\fBdlcli {name}\\fR [OPTIONS] {args}".rstrip()


# The commands whose page lists every config key (the dlcli.toml that init writes points there).
CONFIG_PAGES = ("train",)


def _config_key_lines() -> list[str]:
    """One entry per config key, from the schema: ``section.key = default``, flag, meaning."""
    from dlcli import tomlwriter
    from dlcli.config import settings

    lines = [
        ".PP",
        _esc(
            "Every key of dlcli.toml as section.key = default (and its flag). Each is also "
            "DLCLI_<SECTION>_<KEY> in the environment and --set section.key=value on the command line; "
            "docs/configuration.md has the same list."
        ),
    ]
    for key, spec in settings().items():
        flag = f" ({spec.flag})" if spec.flag else ""
        lines += [".TP", f"\\fB{_esc(key)}\\fR = {_esc(tomlwriter.value_text(spec.default))}{_esc(flag)}"]
        lines.append(_esc(spec.describe(quote=lambda choice: f"'{choice}'")))
    return lines


def command_page(name: str, command: Any) -> str:
    paragraphs = _paragraphs(command.help or "")
    summary = paragraphs[0] if paragraphs else ""
    lines = [
        f'.TH DLCLI\\-{name.upper()} 1 "" "dlcli {__version__}" "dlcli manual"',
        ".SH NAME",
        f"dlcli\\-{name} \\- {_esc(summary)}",
        ".SH SYNOPSIS",
        _usage(name, command),
        ".SH DESCRIPTION",
    ]
    for paragraph in paragraphs[1:]:
        lines += [".PP", _esc(paragraph)]
    if any(p.param_type_name == "argument" for p in command.params):
        lines += [".SH ARGUMENTS", *_argument_lines(command)]
    lines += [".SH OPTIONS", *_option_lines(command)]
    if name in CONFIG_PAGES:
        lines += [".SH CONFIGURATION KEYS", *_config_key_lines()]
    lines += _common_sections()
    lines += [".SH SEE ALSO", "\\fBdlcli\\fR(1)"]
    return "\n".join(lines) + "\n"


def main_page(group: Any) -> str:
    paragraphs = _paragraphs(group.help or "")
    lines = [
        '.TH DLCLI 1 "" "dlcli ' + __version__ + '" "dlcli manual"',
        ".SH NAME",
        f"dlcli \\- {_esc(paragraphs[0])}",
        ".SH SYNOPSIS",
        "\\fBdlcli\\fR [\\-\\-debug] \\fICOMMAND\\fR [OPTIONS] [ARGS]...",
        ".SH DESCRIPTION",
    ]
    for paragraph in paragraphs[1:]:
        lines += [".PP", _esc(paragraph)]
    lines += [".SH COMMANDS"]
    for name, command in sorted(group.commands.items()):
        first = _paragraphs(command.help or "")[0] if command.help else ""
        lines += [".TP", f"\\fBdlcli {name}\\fR", f"{_esc(first)} See \\fBdlcli\\-{name}\\fR(1)."]
    lines += [".SH OPTIONS", *_option_lines(group)]
    lines += [
        ".SH CONFIGURATION",
        ".PP",
        _esc(
            "One file, dlcli.toml, with sections [data], [model], [train], [output] "
            "and [remote]. Resolution order, last wins: built-in defaults < dlcli.toml < DLCLI_* environment < flags. "
            "'dlcli train --print-config' prints the resolved values."
        ),
    ]
    lines += [
        ".SH SHELL COMPLETION",
        ".PP",
        _esc(
            'Bash: eval "$(_DLCLI_COMPLETE=source_bash dlcli)"; zsh: '
            'eval "$(_DLCLI_COMPLETE=source_zsh dlcli)"; fish: _DLCLI_COMPLETE=source_fish dlcli | source. '
            "Or run 'dlcli --install-completion'."
        ),
    ]
    lines += _common_sections()
    lines += [".SH SEE ALSO", ", ".join(f"\\fBdlcli\\-{n}\\fR(1)" for n in sorted(group.commands))]
    return "\n".join(lines) + "\n"


def _common_sections() -> list[str]:
    lines = [".SH EXIT STATUS"]
    for code, text in EXIT_STATUS:
        lines += [".TP", f"\\fB{code}\\fR", _esc(text)]
    lines += [".SH ENVIRONMENT"]
    for name, text in ENVIRONMENT:
        lines += [".TP", f"\\fB{_esc(name)}\\fR", _esc(text)]
    return lines


def render_all() -> dict[str, str]:
    """File name → roff text for ``dlcli.1`` and every ``dlcli-<command>.1``."""
    import typer

    from dlcli.cli.app import app
    from dlcli.cli.helptext import expand_params

    group = typer.main.get_command(app)
    pages = {"dlcli.1": main_page(group)}
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        expand_params(command)
        pages[f"dlcli-{name}.1"] = command_page(name, command)
    return pages


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_all().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "man")):
        print(written_path)
