"""The optional layers and the install extra each needs (``pip install 'ketapain[capture]'``).

At the bottom of the layers with :mod:`ketapain.errors`: it imports nothing else of ours and no
third-party package, so the command line can check an extra before importing its layer.

The base install runs ``ketapain demo`` (protocol, data, stats, instruments, design,
operations, simulate, analysis, report). The extras mirror the layers:

============ ======================================================================
extra        what it adds
============ ======================================================================
``capture``  the web stack of ``ketapain.capture``: FastAPI, SQLAlchemy, Alembic,
             argon2-cffi, uvicorn (with uvloop and httptools), python-multipart, itsdangerous, anyio
``interop``  the formats of ``ketapain.interop``: pyreadstat (SAS XPORT),
             fhir.resources (FHIR validation), openpyxl (Excel .xlsx)
``postgres`` the PostgreSQL driver of the capture app (psycopg)
``dask``     simulation-based power on a Dask cluster (imported lazily, where used)
``test``     every extra above, plus the test tools
============ ======================================================================

``import ketapain.capture`` (or ``ketapain.interop``) without its extra raises an
:class:`ImportError` whose message is :func:`missing_extra`'s advice; the commands that need an
extra print that advice as one line, ``error: ketapain serve needs the web stack: pip install
'ketapain[capture]'``, and exit 1.

>>> EXTRAS["capture"].what
'the web stack'
>>> missing_extra("interop", modules=("json",)) is None
True
>>> missing_extra("interop", user="ketapain export", modules=("no_such_module_xyz",))
"ketapain export needs the import/export formats: pip install 'ketapain[interop]'"
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["EXTRAS", "Extra", "missing_extra", "require_extra"]


@dataclass(frozen=True, slots=True)
class Extra:
    """One install extra: what it is called in messages and the modules it provides."""

    name: str
    what: str
    modules: tuple[str, ...]


EXTRAS: dict[str, Extra] = {
    "capture": Extra("capture", "the web stack",
                     ("fastapi", "starlette", "sqlalchemy", "alembic", "argon2", "uvicorn", "multipart", "itsdangerous", "anyio",
                      "httptools", *(("uvloop",) if sys.platform != "win32" else ()))),
    "interop": Extra("interop", "the import/export formats", ("pyreadstat", "fhir.resources", "openpyxl")),
    "postgres": Extra("postgres", "the PostgreSQL driver", ("psycopg",)),
    "dask": Extra("dask", "dask.distributed", ("dask", "distributed")),
}
"""Extra name -> :class:`Extra`; tests/test_dependencies.py checks the modules against
pyproject.toml (each module is provided by one of the extra's distributions, and each
distribution provides one of the modules)."""


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a missing parent package, or a module without a spec
        return False


def missing_extra(extra: str, *, user: str | None = None, modules: Sequence[str] | None = None) -> str | None:
    """The one-line advice when a module of ``extra`` cannot be imported, else None.

    Parameters
    ----------
    extra
        A key of :data:`EXTRAS`.
    user
        Who needs it, as the message names it (``"ketapain serve"``); default
        ``"ketapain.<extra>"``.
    modules
        The modules to look for (default: the extra's own); for the doctests.

    Returns
    -------
    str or None
        ``"<user> needs <what>: pip install 'ketapain[<extra>]'"``, or None when every module
        is there. Nothing is imported (only looked up), so the check is cheap.
    """
    spec = EXTRAS[extra]
    wanted = spec.modules if modules is None else tuple(modules)
    if all(_importable(m) for m in wanted):
        return None
    return f"{user or 'ketapain.' + extra} needs {spec.what}: pip install 'ketapain[{extra}]'"


def require_extra(extra: str) -> None:
    """Raise :class:`ImportError` with :func:`missing_extra`'s advice when ``extra`` is missing.

    Called first thing by the layer's ``__init__``, so that ``import ketapain.capture``
    says what to install instead of naming whichever module happened to be imported first.
    """
    advice = missing_extra(extra)
    if advice is not None:
        raise ImportError(advice, name=f"ketapain.{extra}")
