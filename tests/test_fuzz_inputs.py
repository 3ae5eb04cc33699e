"""Fuzz tests: malformed protocols, answer files, diaries and long CSVs (issue 14).

Every generated input must end in a clear error — a :class:`~ketapain.errors.KetapainError`
from the library, or exit 1 with ``error: ...`` lines (and no traceback) from the command
line — or in a correct result; never in another exception type. Inputs are mutations of the
shipped protocol and example files (``tests/strategies.py``). Bounded: every test has a fixed
``max_examples`` and no deadline, the whole file runs in well under 60 s.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ketapain.cli import app
from ketapain.errors import InstrumentError, KetapainError, ProtocolError
from ketapain.instruments import get_instrument, score
from ketapain.protocol import Protocol

from strategies import answer_dicts, answer_file_bytes, malformed_csv_texts, malformed_protocol_texts


def fuzz(max_examples: int) -> settings:
    """Bounded: a fixed number of examples, no per-example deadline (a fit may take 0.5 s)."""
    return settings(max_examples=max_examples, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


runner = CliRunner()
INSTRUMENTS = ("hads", "bpi", "psqi", "nrs", "pgic", "dn4", "sf36")


def assert_clean_exit(result, *, allowed_codes: tuple[int, ...] = (0, 1)) -> None:
    """Exit 0, or exit 1 with only ``error: ...`` lines (and their indented details) on stderr."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{type(result.exception).__name__} escaped: {result.exception!r}") from result.exception
    assert result.exit_code in allowed_codes, (result.exit_code, result.output)
    if result.exit_code == 1:
        lines = result.stderr.splitlines()
        assert lines and lines[0].startswith("error: "), result.stderr
        assert all(line.startswith("error: ") or line[:1].isspace() for line in lines), result.stderr
        assert "Traceback" not in result.output and "unexpected" not in result.stderr


def run_in_tmp(files: dict[str, bytes | str], args: list[str]):
    """Run ``ketapain *args`` in a fresh folder holding ``files`` ({name} in args is its path)."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, content in files.items():
            path = Path(tmp) / name
            if isinstance(content, str):
                path.write_text(content, encoding="utf-8")
            else:
                path.write_bytes(content)
        result = runner.invoke(app, [a.replace("{tmp}", tmp) for a in args])
        assert_clean_exit(result)
        return result


# --- protocols ----------------------------------------------------------------------------------


@fuzz(120)
@given(text=malformed_protocol_texts())
def test_mutated_protocols_are_refused_or_valid(text: str) -> None:
    try:
        protocol = Protocol.from_toml_text(text, source="fuzz.toml")
    except ProtocolError as exc:
        lines = str(exc).splitlines()
        assert lines and all(line.startswith("fuzz.toml: ") for line in lines), str(exc)
        return
    # valid: every number is finite and bounded, so what reads the protocol works or refuses
    for model in protocol.model_dump().values():
        _assert_finite(model)
    assert protocol.design.period_days <= 365 and protocol.diary.days_per_period <= protocol.design.period_days


def _assert_finite(value: object) -> None:
    if isinstance(value, float):
        assert math.isfinite(value)
    elif isinstance(value, dict):
        for v in value.values():
            _assert_finite(v)
    elif isinstance(value, list | tuple):
        for v in value:
            _assert_finite(v)


@fuzz(12)
@given(text=malformed_protocol_texts())
def test_mutated_protocols_through_the_cli(text: str) -> None:
    run_in_tmp({"p.toml": text}, ["protocol", "validate", "{tmp}/p.toml"])
    run_in_tmp({"p.toml": text}, ["simulate", "--protocol", "{tmp}/p.toml", "--patients", "6", "--seed", "1",
                                  "--out", "{tmp}/trial"])


# --- answer files for score ---------------------------------------------------------------------


@fuzz(150)
@given(name=st.sampled_from(INSTRUMENTS), answers=answer_dicts, incomplete=st.sampled_from(["error", "missing"]))
def test_score_answers_clear_error_or_scores(name: str, answers: dict, incomplete: str) -> None:
    instrument = get_instrument(name)
    try:
        result = score(instrument, answers, incomplete=incomplete)  # type: ignore[arg-type]
    except InstrumentError:
        return
    for key, value in result.items():
        assert isinstance(key, str)
        assert value is None or isinstance(value, bool | str) or (isinstance(value, int | float) and math.isfinite(value))


@fuzz(60)
@given(name=st.sampled_from(INSTRUMENTS), content=answer_file_bytes(), as_json=st.booleans())
def test_score_files_through_the_cli(name: str, content: bytes, as_json: bool) -> None:
    result = run_in_tmp({"a.json": content}, ["score", name, "{tmp}/a.json", "--incomplete", "missing",
                                              *(["--json"] if as_json else [])])
    if result.exit_code == 0 and as_json:
        json.loads(result.stdout)  # valid JSON (no NaN): every score finite or null


# --- diaries and long CSVs ----------------------------------------------------------------------


@fuzz(40)
@given(text=malformed_csv_texts("diary.csv", keep_rows=140), impute=st.sampled_from(["none", "locf", "linear"]))
def test_mutated_diaries_through_auc(text: str, impute: str) -> None:
    run_in_tmp({"diary.csv": text}, ["auc", "{tmp}/diary.csv", "--time-axis", "first_diary_day", "--windows", "7,35",
                                     "--impute", impute, "--json"])


@fuzz(25)
@given(text=malformed_csv_texts("pain_auc.csv"))
def test_mutated_long_data_through_fit(text: str) -> None:
    run_in_tmp({"data.csv": text}, ["fit", "{tmp}/data.csv", "--df-method", "satterthwaite"])


@pytest.mark.parametrize("error", [KetapainError])
def test_the_contract_is_ketapain_error(error: type[Exception]) -> None:
    """Documentation of the contract above: the library's clear errors all derive from it."""
    assert issubclass(ProtocolError, error) and issubclass(InstrumentError, error)
