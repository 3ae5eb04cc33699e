"""The capture app captures the NRS 0..10 only (its phone diary shows 0..10 buttons, its forms
accept 0..10): it refuses, before touching the database, a protocol on another diary scale."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

import scales
from ketapain.capture import create_app
from ketapain.capture.app import CAPTURE_SCALE, capture_protocol, prepare_database
from ketapain.capture.db import make_engine
from ketapain.capture.schemas import Pain
from ketapain.errors import ProtocolError

from .conftest import make_settings


def test_the_capture_scale_is_the_forms_scale() -> None:
    pain = TypeAdapter(Pain)
    low, high = CAPTURE_SCALE
    assert pain.validate_python(low) == low and pain.validate_python(high) == high
    for outside in (low - 0.5, high + 0.5):
        with pytest.raises(ValidationError):
            pain.validate_python(outside)


@pytest.mark.parametrize(("lo", "hi"), [(0, 100), (0, 5), (1, 10)])
def test_a_protocol_on_another_scale_is_refused_at_start(tmp_path: Path, lo: int, hi: int) -> None:
    path = scales.protocol_on_scale(tmp_path / "trial", lo, hi)
    db = tmp_path / "capture.sqlite"
    with pytest.raises(ProtocolError) as err:
        create_app(make_settings(f"sqlite:///{db}", protocol=str(path)))
    assert str(err.value) == (
        f"{path}: the diary scale is {lo}..{hi} ([diary] scale_min = {lo}, scale_max = {hi}); ketapain capture "
        "supports only the NRS 0..10 (its phone diary and forms take 0..10), so it does not start with this "
        "protocol. Collect this trial's diary elsewhere; ketapain check and ketapain analyze take its data on "
        "its own scale")
    assert not db.exists()  # refused before anything was created


def test_prepare_database_refuses_it_before_migrating(tmp_path: Path) -> None:
    path = scales.protocol_on_scale(tmp_path / "trial", 0, 100)
    db = tmp_path / "capture.sqlite"
    engine = make_engine(f"sqlite:///{db}")
    try:
        with pytest.raises(ProtocolError, match=r"the diary scale is 0\.\.100"):
            prepare_database(engine, make_settings(f"sqlite:///{db}", protocol=str(path)))
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall() == []
    finally:
        engine.dispose()


def test_the_nrs_template_is_accepted(tmp_path: Path) -> None:
    path = scales.protocol_on_scale(tmp_path / "trial", 0, 10)
    assert capture_protocol(str(path)).diary.scale == CAPTURE_SCALE
    assert capture_protocol("ketapain").diary.scale == CAPTURE_SCALE


def test_serve_refuses_it_before_making_the_secret_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`ketapain serve` with such a protocol exits 1 with the message and leaves nothing behind:
    no database, no secret-key file (the key is made on a new database's first start)."""
    from typer.testing import CliRunner

    from ketapain.cli import app

    path = scales.protocol_on_scale(tmp_path / "trial", 0, 100)
    db = tmp_path / "capture.sqlite"
    monkeypatch.setenv("KETAPAIN_PROTOCOL", str(path))
    monkeypatch.delenv("KETAPAIN_SECRET_KEY", raising=False)
    res = CliRunner().invoke(app, ["serve", "--db", f"sqlite:///{db}"])
    assert res.exit_code == 1
    assert "the diary scale is 0..100" in res.stderr and "ketapain capture supports only the NRS 0..10" in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trial"]
