"""``ketapain simulate`` into a folder it cannot write: one line naming the path and the OS
reason, exit 1, no traceback, nothing half-written (issue 14)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ketapain.cli import app

runner = CliRunner()
SIMULATE = ["simulate", "--patients", "6", "--seed", "1"]


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0,
                    reason="chmod does not stop root (the test below covers the message as root too)")
def test_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        res = runner.invoke(app, [*SIMULATE, "--out", str(folder / "trial")])
    finally:
        folder.chmod(0o755)
    assert res.exit_code == 1
    assert res.stderr.splitlines() == [f"error: {folder / 'trial'}: Permission denied"]
    assert list(folder.iterdir()) == []


def test_permission_denied_names_the_destination(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As root chmod is no obstacle: the OS refusal is made by hand, on the temporary folder."""
    real_mkdir = Path.mkdir

    def refuse(self: Path, *args: object, **kwargs: object) -> None:
        if self.name.endswith(".tmp"):
            raise PermissionError(13, "Permission denied", str(self))
        real_mkdir(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "mkdir", refuse)
    res = runner.invoke(app, [*SIMULATE, "--out", str(tmp_path / "trial")])
    assert res.exit_code == 1
    assert res.stderr.splitlines() == [f"error: {tmp_path / 'trial'}: Permission denied"]
    assert list(tmp_path.iterdir()) == []


def test_a_file_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("mine")
    res = runner.invoke(app, [*SIMULATE, "--out", str(tmp_path / "afile" / "trial")])
    assert res.exit_code == 1
    assert res.stderr.splitlines() == [f"error: {tmp_path / 'afile'}: Not a directory"]
    assert (tmp_path / "afile").read_text() == "mine"
