"""docs/configuration.md, generated from the config schema (``python -m dlcli.cli.gendocs``).

Every key's default, flag, meaning, choices and bounds come from :func:`dlcli.config.settings`;
a test regenerates the page and fails when the committed one is stale.
"""

from __future__ import annotations

from dlcli import tomlwriter
from dlcli.config import Setting

INTRO = """\
# Configuration reference

<!-- Generated from dlcli/config.py by `python -m dlcli.cli.gendocs`; do not edit by hand. -->

dlcli reads one file, `dlcli.toml`, with the standard library's `tomllib`. Resolution order,
last wins:

1. built-in defaults (below);
2. `dlcli.toml` (the `CONFIG` argument of `dlcli train`, else `./dlcli.toml` when it exists);
3. environment variables `DLCLI_<SECTION>_<KEY>`, e.g. `DLCLI_TRAIN_EPOCHS=50`;
4. flags: the common ones (`--epochs`, `--lr`, `--hidden 64,32`, …) and `--set section.key=value`
   for any key.

`dlcli train --print-config` prints the resolved configuration and exits. Unknown sections
and keys, and values of the wrong type or out of range, are errors (exit 2) naming the key,
the value and the nearest valid spelling. Relative paths in the file are relative to the
file's directory; relative paths in flags and the environment are relative to the working
directory. Lists may be given as comma-separated strings in flags and the environment.
`dlcli init` writes a `dlcli.toml` listing every key below with its meaning.
"""

SECTION_NOTES = {
    "model": """\
The output layer follows the task: sigmoid (binary), softmax (multi-class) or linear
(regression); cross-entropies are computed from logits. Numeric inputs are standardised by
the model's first layer (fitted on the training rows); regression targets are standardised
for training and the scaling is folded into the output layer of the saved model.
""",
}


def render() -> str:
    """The whole page."""
    from dlcli.config import SECTIONS, settings

    specs = settings()
    parts = [INTRO]
    for section in SECTIONS:
        parts += [f"## `[{section}]`", "", "| key | default | flag | meaning |", "|---|---|---|---|"]
        for key, spec in specs.items():
            if key.startswith(section + "."):
                name = key.split(".", 1)[1]
                flag = f"`{spec.flag}`" if spec.flag else ""
                parts.append(f"| `{name}` | `{tomlwriter.value_text(spec.default)}` | {flag} | {meaning(spec)} |")
        parts.append("")
        if section in SECTION_NOTES:
            parts += [SECTION_NOTES[section]]
    return "\n".join(parts).rstrip() + "\n"


def meaning(spec: Setting) -> str:
    return spec.describe(quote=lambda choice: f"`{choice}`").replace("|", "\\|")
