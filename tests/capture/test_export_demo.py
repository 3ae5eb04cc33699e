"""``--demo`` import -> export -> ``run_analysis`` unchanged; ``ketapain audit verify`` CLI."""

from __future__ import annotations

from typer.testing import CliRunner

from ketapain.analysis import run_analysis
from ketapain.capture import Actor, verify_audit
from ketapain.capture.app import prepare_database
from ketapain.capture.db import make_engine, make_sessionmaker
from ketapain.capture.services import Context, export
from ketapain.data import TrialData
from ketapain.protocol import load_protocol

from .conftest import make_settings


def test_demo_export_reads_back_and_analyses(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    settings = make_settings(url)
    engine = make_engine(url)
    prepare_database(engine, settings, demo=True, demo_patients=6)
    protocol = load_protocol("ketapain")
    with make_sessionmaker(engine)() as s:
        data = export.export_trial(Context(s, Actor("ph", "pharmacist"), settings, protocol))
        s.commit()
        assert verify_audit(s).ok
    data.write(tmp_path / "trial")
    back = TrialData.read(tmp_path / "trial")
    assert len(back.patients) == 6 and len(back.allocation) == 18 and len(back.diary) > 0
    results = run_analysis(back, protocol, sensitivity=False)
    assert results is not None
    from ketapain.cli import app
    r = CliRunner().invoke(app, ["audit", "verify", "--db", url])
    assert r.exit_code == 0 and "audit trail OK" in r.output
    with engine.begin() as c:
        c.exec_driver_sql("UPDATE patients SET age_years = 99 WHERE patient_id = 'P001'")
    r = CliRunner().invoke(app, ["audit", "verify", "--db", url])
    assert r.exit_code == 1 and "patients record" in r.output and "age_years" in r.output
