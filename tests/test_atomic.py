"""``ketapain._atomic``: writes that land whole or not at all, and the clean-up after a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ketapain._atomic import clean_stale, critical, entries_write, file_write, folder_write, recording


def _dead_pid() -> int:
    """The pid of a process that has ended."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(done.stdout)


def test_stale_temporary_siblings_of_ended_processes_are_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    dead = _dead_pid()
    stale = [tmp_path / f".out.{dead}-0123456789ab.tmp", tmp_path / ".out.tmp-0123456789abcdef0123456789abcdef",
             tmp_path / ".out.0123456789ab.tmp"]
    for folder in stale:
        folder.mkdir()
        (folder / "half.csv").write_text("half")
    alive = tmp_path / f".out.{os.getpid()}-0123456789ab.tmp"   # a write under way: left alone
    alive.mkdir()
    mine = tmp_path / ".out.notes"                            # not one of our names
    mine.write_text("user")
    with folder_write(out) as tmp:
        (tmp / "a.txt").write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, mine.name, "out"])
    assert (out / "a.txt").read_text() == "new"


def test_a_backup_whose_swap_did_not_finish_is_put_back(tmp_path: Path) -> None:
    out = tmp_path / "out"
    backup = tmp_path / f".out.{_dead_pid()}-0123456789ab.old"   # killed between the two renames
    backup.mkdir()
    (backup / "table.csv").write_text("previous")
    assert clean_stale(out) == [backup]
    assert (out / "table.csv").read_text() == "previous" and not backup.exists()


def test_entries_backup_gives_back_the_entries_missing(tmp_path: Path) -> None:
    out = tmp_path / "report"
    out.mkdir()
    (out / "index.html").write_text("new")
    backup = tmp_path / f".report.{_dead_pid()}-0123456789ab.was"
    backup.mkdir()
    (backup / "index.html").write_text("old")
    (backup / "results.json").write_text("old")
    clean_stale(out)
    assert (out / "index.html").read_text() == "new" and (out / "results.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_entries_write_keeps_other_files_and_removes_dropped_entries(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("user")
    (out / "report.pdf").write_text("old")
    with recording() as journal, entries_write(out, ["index.html", "report.pdf"]) as tmp:
        (tmp / "index.html").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "mine.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert journal.kept() == [out] and journal.pending == []


def test_an_error_leaves_the_destination_and_names_it(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    out.write_text("before")

    def disk_full() -> None:
        with file_write(out) as tmp:
            tmp.write_text("half")
            raise OSError(28, "No space left on device", str(tmp))

    with recording() as journal, pytest.raises(OSError, match=r"out\.csv") as info:
        disk_full()
    assert info.value.filename == str(out)
    assert out.read_text() == "before" and sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]
    assert journal.kept() == []


def test_a_file_in_the_way_is_named(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(NotADirectoryError) as info, folder_write(tmp_path / "afile" / "trial"):
        pass
    assert info.value.filename == str(tmp_path / "afile")


def test_critical_holds_a_signal_back_until_its_end() -> None:
    reached = []

    def interrupted_block() -> None:
        with critical():
            signal.raise_signal(signal.SIGINT)
            reached.append("end of the block")

    # Python's own SIGINT handler for the test: a process started in the background by a
    # non-interactive shell inherits SIGINT ignored, and critical() rightly restores that
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            interrupted_block()
    finally:
        signal.signal(signal.SIGINT, before)
    assert reached == ["end of the block"]
