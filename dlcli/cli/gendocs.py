"""Regenerate the generated docs: ``python -m dlcli.cli.gendocs`` (man/ and docs/configuration.md).

Both are built from the code (the Typer command tree and the config schema); tests fail when
the committed copies are stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from dlcli.cli import configdoc, manpage


def main(root: Path) -> list[Path]:
    written = manpage.write_all(root / "man")
    path = root / "docs" / "configuration.md"
    path.write_text(configdoc.render(), encoding="utf-8")
    return [*written, path]


if __name__ == "__main__":
    for written_path in main(Path(sys.argv[1] if len(sys.argv) > 1 else ".")):
        print(written_path)
