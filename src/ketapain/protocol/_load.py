"""Find and read protocol files: shipped names or paths."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from ketapain.errors import ProtocolError
from ketapain.protocol._models import Protocol

__all__ = ["list_protocols", "load_protocol"]


def _shipped() -> Traversable:
    return resources.files("ketapain.protocol") / "files"


def list_protocols() -> tuple[str, ...]:
    """Names of the protocol files shipped with ketapain, sorted.

    Examples
    --------
    >>> list_protocols()
    ('ab_ba_example', 'ketapain', 'oral_ab_ba_example')
    """
    return tuple(sorted(f.name.removesuffix(".toml") for f in _shipped().iterdir() if f.name.endswith(".toml")))


def load_protocol(source: str | Path) -> Protocol:
    """Load and validate a protocol: a shipped name or the path of a TOML file.

    Parameters
    ----------
    source
        A name from :func:`list_protocols` (``"ketapain"``, ``"ab_ba_example"``), given as a
        ``str``; anything else (and any :class:`~pathlib.Path`) is the path of a TOML file.

    Returns
    -------
    Protocol
        The validated, frozen protocol.

    Raises
    ------
    ProtocolError
        Unknown name or unreadable file; TOML syntax error; or every validation problem, one
        per line, each as ``<file name>: <key path>: <message>``.

    Examples
    --------
    >>> p = load_protocol("ketapain")
    >>> p.study.id, p.design.kind, p.design.periods, p.design.period_days
    ('ketapain', 'williams', 3, 35)
    """
    if isinstance(source, str) and source in list_protocols():
        name = f"{source}.toml"
        return Protocol.from_toml_text((_shipped() / name).read_text(encoding="utf-8"), source=name)
    path = Path(source)
    if not path.is_file():
        hint = f"; shipped protocols: {', '.join(list_protocols())}" if isinstance(source, str) else ""
        raise ProtocolError(f"{source}: no such protocol file{hint}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"{path.name}: cannot read: {exc}") from None
    return Protocol.from_toml_text(text, source=path.name)
