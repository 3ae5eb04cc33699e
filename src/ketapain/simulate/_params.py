"""The simulator's parameters (``data/ketapain_twin.toml``) and the published reference figures.

Parameters are plain nested mappings read from TOML; :func:`load_parameters` checks the keys the
simulator needs and records the file's SHA-256 so that every simulated trial names the exact
parameters it came from. Arms are looked up by code with :func:`arm_parameters`.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any

from ketapain.errors import ProtocolError

__all__ = ["Parameters", "arm_parameters", "load_parameters", "load_published"]

DEFAULT_FILE = "ketapain_twin.toml"
PUBLISHED_FILE = "ketapain_2020_published.json"
_REQUIRED = ("diary", "pre_infusion", "missing", "arms", "default_arm", "placebo_arm", "patients",
             "screening", "questionnaires", "adverse_events", "concomitant", "blinding")


@dataclass(frozen=True, slots=True)
class Parameters:
    """Simulator parameters: the parsed TOML (``values``), where it came from and its SHA-256."""

    values: Mapping[str, Any]
    source: str
    sha256: str

    def __getitem__(self, key: str) -> Any:
        return self.values[key]


def _read_bytes(path: str | PathLike[str] | None) -> tuple[bytes, str]:
    if path is None:
        ref = resources.files("ketapain.simulate").joinpath("data").joinpath(DEFAULT_FILE)
        return ref.read_bytes(), f"ketapain.simulate/data/{DEFAULT_FILE}"
    p = Path(path)
    try:
        return p.read_bytes(), str(p)
    except OSError as exc:
        raise ProtocolError(f"{p}: cannot read the simulator parameter file ({exc.strerror})") from None


def load_parameters(parameters: Parameters | str | PathLike[str] | Mapping[str, Any] | None = None) -> Parameters:
    """Load simulator parameters.

    Parameters
    ----------
    parameters : Parameters, path, mapping or None
        None reads the shipped ``ketapain_twin.toml``; a path reads that TOML file; a mapping
        is used as the parsed file (its SHA-256 is that of its canonical JSON); a
        :class:`Parameters` is returned unchanged.

    Returns
    -------
    Parameters

    Raises
    ------
    ProtocolError
        The file cannot be read, is not valid TOML, or lacks a required section.

    Examples
    --------
    >>> p = load_parameters()
    >>> p.source, len(p.sha256)
    ('ketapain.simulate/data/ketapain_twin.toml', 64)
    """
    if isinstance(parameters, Parameters):
        return parameters
    if isinstance(parameters, Mapping):
        values = dict(parameters)
        raw = json.dumps(values, sort_keys=True, default=str).encode()
        source = "<mapping>"
    else:
        raw, source = _read_bytes(parameters)
        try:
            values = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ProtocolError(f"{source}: not a valid TOML parameter file ({exc})") from None
    missing = [k for k in _REQUIRED if k not in values]
    if missing:
        raise ProtocolError(f"{source}: missing section(s) {', '.join(missing)}; required: {', '.join(_REQUIRED)}")
    return Parameters(values=values, source=source, sha256=hashlib.sha256(raw).hexdigest())


def load_published() -> dict[str, Any]:
    """The published KETAPAIN figures (Pickering et al. 2020), as shipped with the package.

    Examples
    --------
    >>> load_published()["table2_auc"]["average_pain"]["day35"]["P"]
    [187, 90]
    """
    ref = resources.files("ketapain.simulate").joinpath("data").joinpath(PUBLISHED_FILE)
    return json.loads(ref.read_text(encoding="utf-8"))


def arm_parameters(params: Parameters, code: str, *, placebo: bool) -> tuple[dict[str, Any], str]:
    """Parameters of arm ``code`` and the code of the arm whose tables it borrows.

    An arm listed under ``[arms.<code>]`` uses its own entry. Any other arm uses
    ``[placebo_arm]`` when the protocol marks it placebo, else ``[default_arm]``; both name
    (``like``) a listed arm whose per-arm tables (questionnaire columns, adverse events,
    added analgesics) it borrows.

    Raises
    ------
    ProtocolError
        The fallback names an arm that the file does not list.

    Examples
    --------
    >>> p = load_parameters()
    >>> arm_parameters(p, "K", placebo=False)[1], arm_parameters(p, "L", placebo=False)[1]
    ('K', 'K')
    """
    arms = params["arms"]
    if code in arms:
        return dict(arms[code]), code
    section = "placebo_arm" if placebo else "default_arm"
    entry = dict(params[section])
    like = entry.get("like")
    if like not in arms:
        raise ProtocolError(
            f"{params.source}: arm {code!r} is not under [arms] and [{section}].like={like!r} names no "
            f"listed arm (listed: {', '.join(arms)})"
        )
    merged = {**arms[like], **entry}
    return merged, like
