"""Public modules expose a sorted ``__all__`` whose names all exist (CONTRIBUTING.md)."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = [
    "ketapain",
    "ketapain.errors",
    "ketapain.data",
    "ketapain.stats",
    "ketapain.cli",
    "ketapain.design",
    "ketapain.examples",
    "ketapain.instruments",
    "ketapain.operations",
    "ketapain.protocol",
    "ketapain.analysis",
    "ketapain.simulate",
    "ketapain.report",
    "ketapain.interop",
    "ketapain.capture",
]


@pytest.mark.parametrize("name", PUBLIC)
def test_all_is_sorted_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported)
    for attr in exported:
        assert hasattr(module, attr), f"{name}.{attr}"


def test_errors_subclass_builtins() -> None:
    from ketapain import errors

    assert issubclass(errors.DataError, ValueError) and issubclass(errors.DataError, errors.KetapainError)
    assert issubclass(errors.ModelError, ValueError)
    assert issubclass(errors.SingularFitWarning, UserWarning)
