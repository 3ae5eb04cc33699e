"""Atomic folder writes: build in a hidden sibling, then swap it into place.

Every writer of a whole folder (TrialData, SDTM/ADaM packages, Stata exports) follows the same
rules, kept here once: the destination must be a folder that is absent, empty, or (with
``overwrite``) holds only files of that writer; the new content is built in a hidden sibling
folder and renamed into place; on any failure the old folder is restored and the temporary
one removed, so nothing is ever half-written.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ketapain.errors import DataError

__all__ = ["check_destination", "folder_write", "sibling"]


def sibling(path: Path, kind: str) -> Path:
    """A fresh hidden name next to ``path`` (``.<name>.<random>.<kind>``)."""
    return path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.{kind}"


def check_destination(path: Path, *, overwrite: bool, ours: Callable[[str], bool], what: str) -> None:
    """Refuse a destination that is not a folder, is not empty (without ``overwrite``), or holds
    files that ``ours`` does not recognise (``what`` names them in the message: "trial files").

    Raises
    ------
    DataError
        Naming the folder, the problem and the foreign files.
    """
    if not path.exists():
        return
    if not path.is_dir():
        raise DataError(f"{path} exists and is not a folder")
    contents = sorted(p.name for p in path.iterdir())
    if not contents:
        return
    if not overwrite:
        raise DataError(template="{path} already exists and is not empty; pass {@overwrite=True} to replace it",
                        params={"path": path})
    foreign = [n for n in contents if not ours(n)]
    if foreign:
        raise DataError(f"{path} holds files that are not {what} ({', '.join(foreign)}); refusing to replace it")


def _swap_into_place(tmp: Path, path: Path) -> None:
    """Rename ``tmp`` to ``path``, replacing an existing ``path`` (restored on failure)."""
    if not path.exists():
        os.rename(tmp, path)
        return
    backup = sibling(path, "old")
    os.rename(path, backup)
    try:
        os.rename(tmp, path)
    except BaseException:
        os.rename(backup, path)
        raise
    shutil.rmtree(backup, ignore_errors=True)


@contextmanager
def folder_write(path: Path) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``path``; on success it replaces ``path``.

    Not ``tempfile.mkdtemp``: its folders are private (0o700) and this one becomes the
    destination, so it gets the usual permissions (from the umask).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     target = Path(d) / "out"
    ...     with folder_write(target) as tmp:
    ...         _ = (tmp / "a.txt").write_text("x")
    ...     sorted(p.name for p in Path(d).iterdir()), (target / "a.txt").read_text()
    (['out'], 'x')
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = sibling(path, "tmp")
    tmp.mkdir()
    try:
        yield tmp
        _swap_into_place(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
