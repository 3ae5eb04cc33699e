"""Atomic writes: build in a hidden sibling, then swap it into place; clean up after a crash.

Every writer of files follows the same rules, kept here once:

- the destination is checked first (:func:`check_destination` for whole folders): absent,
  empty, or (with ``overwrite``) holding only files of that writer;
- the new content is built in a hidden sibling (:func:`sibling`: ``.<name>.<pid>-<random>.tmp``)
  and renamed into place at the end: a whole folder (:func:`folder_write`), some entries of a
  folder that may hold other files too (:func:`entries_write`), or one file (:func:`file_write`);
- the renames run with SIGINT and SIGTERM held back (:func:`critical`), so an interruption lands
  before the swap (the destination is as it was) or after it (the new content is complete);
- on any failure, interruption included, the temporary sibling is removed and a replaced
  destination restored;
- a sibling left by a process that was killed outright (``kill -9``, power loss) is removed by
  the next write to the same destination (:func:`clean_stale`); a backup of the previous content
  whose swap did not finish is put back first.

While a :func:`recording` block is open, completed writes and writes under way are noted in
its :class:`Journal`, so that a front end can say what an interruption kept.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from ketapain.errors import DataError

__all__ = [
    "Journal",
    "check_destination",
    "clean_stale",
    "critical",
    "entries_write",
    "file_write",
    "folder_write",
    "recording",
    "sibling",
]

_OURS = re.compile(r"\.(?:(?P<pid>\d+)-)?[0-9a-f]{12}\.(?P<kind>tmp|old|was)")
"""The tail of our sibling names after ``.<name>``: kind ``tmp`` (content being built),
``old`` (a whole folder being replaced), ``was`` (entries of a folder being replaced)."""

_LEGACY = re.compile(r"\.(?P<kind>tmp|old)-[0-9a-z_]{8,32}|\.tmp")
"""Names of earlier versions (the report writer's ``.<name>.tmp-<hex>`` and ``.<name>.old-<hex>``,
which backed up entries; the example writer's ``.<name>.tmp``): no owner, always stale."""

_STALE_AFTER_S = 24 * 3600
"""Where a process cannot be probed (Windows), a sibling this old is stale."""


@dataclass
class Journal:
    """Writes of one :func:`recording` block: ``completed`` destinations, in order, and those
    ``pending`` (begun, not finished)."""

    completed: list[Path] = field(default_factory=list)
    pending: list[Path] = field(default_factory=list)

    def kept(self) -> list[Path]:
        """The completed destinations that are in place (not inside a temporary sibling of a
        write still under way or undone), each once, in order."""
        return [p for p in dict.fromkeys(self.completed) if not any(_is_temporary(part) for part in p.parts)]


def _is_temporary(name: str) -> bool:
    """Whether ``name`` is one of our temporary siblings (of any target)."""
    return re.fullmatch(r"\..+" + _OURS.pattern, name) is not None


_JOURNAL: ContextVar[Journal | None] = ContextVar("ketapain_write_journal", default=None)


@contextmanager
def recording() -> Iterator[Journal]:
    """Note every atomic write made inside the block in the yielded :class:`Journal`."""
    journal = Journal()
    token = _JOURNAL.set(journal)
    try:
        yield journal
    finally:
        _JOURNAL.reset(token)


@contextmanager
def _journal(path: Path) -> Iterator[None]:
    journal = _JOURNAL.get()
    if journal is not None:
        journal.pending.append(path)
    try:
        yield
    finally:
        if journal is not None:
            journal.pending.remove(path)
    if journal is not None:
        journal.completed.append(path)


def sibling(path: Path, kind: str) -> Path:
    """A fresh hidden name next to ``path`` (``.<name>.<pid>-<random>.<kind>``)."""
    return path.parent / f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:12]}.{kind}"


@contextmanager
def critical() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back during the block; one that arrived is re-sent at its end.

    Only in the main thread (elsewhere Python cannot set handlers, and does not run them).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum: int, _frame: FrameType | None) -> None:
        caught.append(signum)

    names = [s for s in (signal.SIGINT, getattr(signal, "SIGTERM", None)) if s is not None]
    previous: dict[int, Any] = {s: signal.signal(s, hold) for s in names}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if caught:
            signal.raise_signal(caught[0])


def _owner_gone(pid: int | None, path: Path) -> bool:
    """Whether the process that made ``path`` has ended (no pid: an earlier version's name)."""
    if pid is None:
        return True
    if pid == os.getpid():
        return False
    if os.name == "nt":  # os.kill(pid, 0) would end the process there
        try:
            return time.time() - path.lstat().st_mtime > _STALE_AFTER_S
        except OSError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _stale_kind(name: str, target: str) -> tuple[str, int | None] | None:
    """``(kind, pid)`` when ``name`` is one of our siblings of ``target``, else None."""
    prefix = f".{target}"
    if not name.startswith(prefix):
        return None
    tail = name[len(prefix):]
    ours = _OURS.fullmatch(tail)
    if ours:
        pid = ours.group("pid")
        return ours.group("kind"), int(pid) if pid else None
    legacy = _LEGACY.fullmatch(tail)
    if legacy:
        return ("was" if legacy.group("kind") == "old" else "tmp"), None
    return None


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def clean_stale(path: Path) -> list[Path]:
    """Remove our siblings of ``path`` left by processes that ended; return them.

    A backup of a whole folder (``old``) whose swap did not finish is renamed back to ``path``
    when ``path`` is missing; a backup of entries (``was``) gives back each entry that ``path``
    lacks. A sibling of a process that is still running is left alone.
    """
    if not path.parent.is_dir():
        return []
    removed = []
    for candidate in sorted(path.parent.iterdir()):
        found = _stale_kind(candidate.name, path.name)
        if found is None or not _owner_gone(found[1], candidate):
            continue
        kind = found[0]
        if kind == "old" and not os.path.lexists(path):
            os.rename(candidate, path)
        elif kind == "was" and candidate.is_dir() and path.is_dir():
            for entry in candidate.iterdir():
                if not os.path.lexists(path / entry.name):
                    os.rename(entry, path / entry.name)
        _remove(candidate)
        removed.append(candidate)
    return removed


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
    _remove(backup)


def _swap_entries(new: Path, out: Path, entries: Iterable[str]) -> None:
    """Replace the ``entries`` of folder ``out`` by those of ``new`` (an entry missing from
    ``new`` is removed from ``out``); other names in ``out`` stay; ``out`` restored on failure."""
    if not out.exists():
        os.rename(new, out)
        return
    backup = sibling(out, "was")
    backup.mkdir()
    moved_out: list[str] = []
    moved_in: list[str] = []
    try:
        for name in entries:
            if os.path.lexists(out / name):
                os.rename(out / name, backup / name)
                moved_out.append(name)
            if os.path.lexists(new / name):
                os.rename(new / name, out / name)
                moved_in.append(name)
    except BaseException:
        for name in moved_in:
            _remove(out / name)
        for name in moved_out:
            os.rename(backup / name, out / name)
        _remove(backup)
        raise
    _remove(backup)
    _remove(new)


@contextmanager
def _staged(path: Path, kind: str, swap: Callable[[Path], None], cleanup: Iterable[Path]) -> Iterator[Path]:
    """Clean stale siblings of ``cleanup``, yield a fresh sibling of ``path``, ``swap`` it in."""
    _make_parent(path)
    for target in cleanup:
        clean_stale(target)
    tmp = sibling(path, "tmp")
    with _journal(path):
        try:
            if kind == "folder":
                tmp.mkdir()
            yield tmp
            with critical():
                swap(tmp)
        except OSError as exc:
            _remove(tmp)
            raise _named(exc, tmp, path) from None
        except BaseException:
            _remove(tmp)
            raise


def _make_parent(path: Path) -> None:
    """Create the folders above ``path``; a file in the way is named (not "File exists")."""
    for above in path.parents:
        if above.exists():
            if not above.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(above))
            break
    path.parent.mkdir(parents=True, exist_ok=True)


def _named(exc: OSError, tmp: Path, path: Path) -> OSError:
    """``exc`` naming the destination instead of the temporary sibling it was built in."""
    name = Path(exc.filename) if exc.filename is not None else None
    if name is None or not (name == tmp or tmp in name.parents):
        return exc
    where = path / name.relative_to(tmp) if name != tmp else path
    return type(exc)(exc.errno, exc.strerror, str(where))


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
    with _staged(path, "folder", lambda tmp: _swap_into_place(tmp, path), [path]) as tmp:
        yield tmp


@contextmanager
def entries_write(path: Path, entries: Iterable[str]) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``path``; on success its ``entries`` (names of
    files or folders) replace those of ``path``, created if needed; other files of ``path`` stay.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     target = Path(d) / "out"
    ...     target.mkdir()
    ...     _ = (target / "mine.txt").write_text("kept")
    ...     with entries_write(target, ["a.txt"]) as tmp:
    ...         _ = (tmp / "a.txt").write_text("x")
    ...     sorted(p.name for p in target.iterdir())
    ['a.txt', 'mine.txt']
    """
    names = tuple(entries)
    cleanup = [path, *(path / name for name in names)]
    with _staged(path, "folder", lambda tmp: _swap_entries(tmp, path, names), cleanup) as tmp:
        yield tmp


@contextmanager
def file_write(path: Path) -> Iterator[Path]:
    """Yield a temporary file name beside ``path``; on success that file replaces ``path``."""
    with _staged(path, "file", lambda tmp: os.replace(tmp, path), [path]) as tmp:
        yield tmp
