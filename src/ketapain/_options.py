"""The options of the public functions: allowed values declared once, checked by one function.

In the spirit of scikit-learn's parameter validation: an option's allowed values are a
constraint object (:class:`OneOf`, :class:`Number`), declared once here when several functions
share the option (``DF_METHOD``, ``CONF_LEVEL``...), and :func:`check_option` raises an error
that names the parameter as a template (:mod:`ketapain.errors`), so that the command line shows
``--df-method 'x' is not one of ...`` where the Python API shows ``df_method='x' is not one of ...``.

This module sits beside :mod:`ketapain.errors` at the bottom of the layers: every package may
import it, it imports nothing of ours but the errors.

>>> check_option("df_method", "bayes", DF_METHOD)
Traceback (most recent call last):
...
ketapain.errors.ModelError: df_method='bayes' is not one of kenward-roger, satterthwaite, containment, normal
>>> check_option("sims", 0, Number(low=1, integer=True))
Traceback (most recent call last):
...
ketapain.errors.ModelError: sims=0 must be an integer >= 1
>>> check_option("conf_level", 1.0, CONF_LEVEL)
Traceback (most recent call last):
...
ketapain.errors.ModelError: conf_level=1.0 must be a number in (0, 1)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

from ketapain.errors import KetapainError, ModelError, parameter

__all__ = [
    "CONF_LEVEL",
    "DESCRIBE_KIND",
    "DF_METHOD",
    "FIT_METHOD",
    "MISSING_MODE",
    "MODEL_KIND",
    "Number",
    "OneOf",
    "SEED",
    "check_option",
    "check_scale",
]


@dataclass(frozen=True, slots=True)
class OneOf:
    """A value among ``choices`` (compared exactly: ``True`` is not ``1``, ``"reml"`` not ``"REML"``)."""

    choices: tuple[Any, ...]

    def __init__(self, *choices: Any) -> None:
        object.__setattr__(self, "choices", tuple(choices))

    def accepts(self, value: Any) -> bool:
        return any(isinstance(value, bool) == isinstance(c, bool) and isinstance(value, type(c)) and value == c
                   for c in self.choices)

    def describe(self) -> str:
        return "is not one of " + ", ".join(map(str, self.choices))


@dataclass(frozen=True, slots=True, kw_only=True)
class Number:
    """A finite real number (an integer with ``integer=True``; never a bool) in a range.

    ``low``/``high`` are the bounds (None: unbounded), open when ``low_open``/``high_open``.
    ``what`` names the kind in messages ("a probability"); ``note`` is added in parentheses.
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    what: str | None = None
    note: str | None = None

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, Integral if self.integer else Real):
            return False
        x = float(value)
        if not math.isfinite(x):
            return False
        if self.low is not None and (x <= self.low if self.low_open else x < self.low):
            return False
        return not (self.high is not None and (x >= self.high if self.high_open else x > self.high))

    def describe(self) -> str:
        text = f"must be {self.what or ('an integer' if self.integer else 'a number')}"
        if self.low is not None and self.high is not None:
            text += f" in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
        elif self.low is not None:
            text += f" {'>' if self.low_open else '>='} {self.low:g}"
        elif self.high is not None:
            text += f" {'<' if self.high_open else '<='} {self.high:g}"
        return text + (f" ({self.note})" if self.note else "")


Constraint = OneOf | Number

DF_METHOD = OneOf("kenward-roger", "satterthwaite", "containment", "normal")
"""Denominator degrees of freedom of tests and intervals (docs/statistics.md)."""
FIT_METHOD = OneOf("REML", "ML")
"""Likelihood of a linear mixed model."""
MODEL_KIND = OneOf("standard", "paper")
"""Fixed effects of the crossover model: treatment + period + sequence, or treatment + sequence."""
DESCRIBE_KIND = OneOf("mean_sd", "median_iqr")
"""How a descriptive row is shown (``report.format_describe``): mean ± SD or median [IQR]."""
CONF_LEVEL = Number(low=0.0, high=1.0, low_open=True, high_open=True)
"""Confidence level of every interval."""
MISSING_MODE = OneOf("mcar", "mar", "mnar", "none")
"""Missing diary days of the simulator."""
SEED = Number(low=0, integer=True)
"""An integer seed (numpy's ``SeedSequence`` takes any integer >= 0)."""


def check_option(name: str, value: Any, allowed: Constraint, *, error: type[KetapainError] = ModelError) -> None:
    """Raise ``error`` naming the parameter ``name``, its ``value`` and what is allowed, unless
    ``allowed`` accepts ``value``."""
    if not allowed.accepts(value):
        raise error(template=parameter(name, valued=True) + " {_rule}", params={name: value, "_rule": allowed.describe()})


def check_scale(name: str, value: Any, *, error: type[KetapainError] = ModelError) -> tuple[float, float]:
    """``value`` as a pain scale ``(low, high)`` of floats: two finite real numbers (not bools) with
    ``low < high``; else raise ``error`` naming the parameter ``name``.

    >>> check_scale("scale", (0, 100))
    (0.0, 100.0)
    >>> check_scale("scale", (10, 0))
    Traceback (most recent call last):
    ...
    ketapain.errors.ModelError: scale=(10, 0) must be (low, high): two finite numbers with low < high
    """
    ok = (isinstance(value, tuple | list) and len(value) == 2
          and all(not isinstance(v, bool) and isinstance(v, Real) and math.isfinite(float(v)) for v in value)
          and float(value[0]) < float(value[1]))
    if not ok:
        raise error(template=parameter(name, valued=True) + " {_rule}",
                    params={name: value, "_rule": "must be (low, high): two finite numbers with low < high"})
    return float(value[0]), float(value[1])
