"""Typed simulator parameters (``load_parameters``) and the public diary kernel (``simulate_diary``)."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import re

import numpy as np
import pytest

from ketapain.errors import ProtocolError
from ketapain.protocol import load_protocol
from ketapain.simulate import ArmEffect, arm_effects, load_parameters, simulate_diary
from ketapain.simulate._params import DiaryParameters, arm_parameters

SHIPPED = "ketapain.simulate/data/ketapain_twin.toml"


def _values() -> dict:
    return copy.deepcopy(dict(load_parameters().values))


def test_shipped_file_reads_into_typed_sections() -> None:
    p = load_parameters()
    assert isinstance(p.diary, DiaryParameters)
    assert p.diary.ar_phi == 0.6 and p.diary.period_effects == (0.0, 0.0, 0.0)
    assert p.arms == {"P": ArmEffect(0.0, 4.0), "K": ArmEffect(-1.1, 4.0), "KM": ArmEffect(-0.2, 4.0)}
    assert p.patients.age_mean.F == 53.0 and p.patients.pain_type["M"] == (0.4, 0.4, 0.1, 0.0, 0.1)
    # tables whose keys are data keep the file's order (the simulator draws in that order)
    assert list(p.adverse_events.terms_pct["P"]) == ["fatigue", "nausea"]
    assert list(p.adverse_events.severity) == ["mild", "moderate", "severe"]
    assert p.questionnaires.targets["pgic"]["K"] == (4.0, 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.diary.ar_phi = 0.1  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(p)) == p  # sent to Dask workers


@pytest.mark.parametrize(("change", "message"), [
    (lambda v: v["diary"].update(ar_phi=1.5), "[diary] ar_phi=1.5 must be a number in (-1, 1)"),
    (lambda v: v["diary"].update(patient_sd=-1.0), "[diary] patient_sd=-1.0 must be a number (an SD) >= 0"),
    (lambda v: v["diary"].update(mean_late="5"), "[diary] mean_late='5' must be a number"),
    (lambda v: v["diary"].pop("ar_sd"), "[diary] has no ar_sd"),
    (lambda v: v["diary"].update(ar_psi=0.1), "[diary] unknown key 'ar_psi'; allowed: mean_late, early_excess"),
    (lambda v: v["missing"].update(mcar_rate=True), "[missing] mcar_rate=True must be a probability in [0, 1]"),
    (lambda v: v["arms"]["K"].update(effect_tau_days=0), "[arms.K] effect_tau_days=0 must be a number > 0"),
    (lambda v: v["patients"]["age_mean"].pop("F"), "[patients.age_mean] has no F"),
    (lambda v: v["patients"]["pain_type"].update(M=[0.5, 0.5]), "[patients.pain_type] M=[0.5, 0.5] must be a list of 5 numbers"),
    (lambda v: v["adverse_events"]["terms_pct"]["K"].update(nausea=150),
     "[adverse_events.terms_pct.K] nausea=150 must be a percentage in [0, 100]"),
    (lambda v: v["questionnaires"]["targets"]["pgic"].update(K=[4.0, -1.0]),
     "[questionnaires.targets.pgic] K: sd=-1.0 must be a number (an SD) >= 0"),
    (lambda v: v.update(blinding=3), "[blinding] must be a table, got 3"),
    (lambda v: v.pop("screening"), "missing section(s) screening; required: diary, pre_infusion"),
    (lambda v: v.update(extra={}), "unknown key 'extra'; allowed: diary, pre_infusion"),
    (lambda v: v["default_arm"].update(like=""), "[default_arm] like='' must be a non-empty text"),
])
def test_bad_values_name_the_file_the_key_and_the_rule(change, message: str) -> None:  # type: ignore[no-untyped-def]
    values = _values()
    change(values)
    with pytest.raises(ProtocolError, match=re.escape(f"<mapping>: {message}")):
        load_parameters(values)


def test_errors_name_the_file_read(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from importlib import resources

    text = resources.files("ketapain.simulate").joinpath("data/ketapain_twin.toml").read_text(encoding="utf-8")
    path = tmp_path / "twin.toml"
    path.write_text(text.replace("ar_phi = 0.6", "ar_phi = -1.0"), encoding="utf-8")
    with pytest.raises(ProtocolError, match=re.escape(f"{path}: [diary] ar_phi=-1.0 must be a number in (-1, 1)")):
        load_parameters(path)
    path.write_text(text, encoding="utf-8")
    assert load_parameters(path).sha256 == load_parameters().sha256
    assert load_parameters().source == SHIPPED


def test_fallback_arms_borrow_and_override() -> None:
    values = _values()
    values["default_arm"] = {"like": "K", "effect_tau_days": 9.0}
    p = load_parameters(values)
    assert arm_parameters(p, "L", placebo=False) == (ArmEffect(-1.1, 9.0), "K")
    assert arm_parameters(p, "Q", placebo=True) == (ArmEffect(0.0, 4.0), "P")
    assert arm_effects(load_protocol("ab_ba_example"), p) == {"L": ArmEffect(-1.1, 9.0), "P": ArmEffect(0.0, 4.0)}


# --- the diary kernel --------------------------------------------------------------------------

PROTO = load_protocol("ketapain")


def _kernel(**kw):  # type: ignore[no-untyped-def]
    params = load_parameters()
    args = {"parameters": params, "arms": tuple(arm_effects(PROTO, params).values()),
            "treatment": np.tile(np.arange(3), (50, 1)), "rng": np.random.default_rng(4), "missing": "mcar"} | kw
    return simulate_diary(PROTO, **args)


def test_diary_kernel_shapes_scale_and_determinism() -> None:
    out = _kernel()
    assert set(out.items) == {"avg_pain", "max_pain", "night_pain"}
    avg = out.items["avg_pain"]
    assert avg.shape == (50, 3, 35) and out.pre_infusion.shape == (50, 3) and out.pain_z.shape == (50,)
    ok = avg[~np.isnan(avg)]
    assert ok.min() >= 0 and ok.max() <= 10 and np.all(ok == np.round(ok))
    # a missing day is missing for every item and for the extra analgesics
    miss = np.isnan(avg)
    assert np.array_equal(np.isnan(out.items["max_pain"]), miss) and np.array_equal(np.isnan(out.extra_analgesics), miss)
    again = _kernel()
    assert all(np.array_equal(again.items[k], out.items[k], equal_nan=True) for k in out.items)
    assert not np.array_equal(_kernel(rng=np.random.default_rng(5)).items["avg_pain"], avg, equal_nan=True)


def test_diary_kernel_effect_follows_the_arm_entries() -> None:
    # a huge effect on arm 1 only: its periods are lower on day 1
    arms = (ArmEffect(0.0, 4.0), ArmEffect(-6.0, 1000.0), ArmEffect(0.0, 4.0))
    out = _kernel(arms=arms, missing="none")
    day1 = out.items["avg_pain"][:, :, 0]
    assert day1[:, 1].mean() < day1[:, 0].mean() - 3


@pytest.mark.parametrize(("kw", "message"), [
    ({"missing": "often"}, "missing='often' is not one of mcar, mar, mnar, none"),
    ({"treatment": np.zeros((5, 2), dtype=int)}, "treatment must be an (N, 3) integer array of arm indices 0..2"),
    ({"treatment": np.full((5, 3), 3)}, "treatment must be an (N, 3) integer array"),
    ({"treatment": np.zeros((5, 3))}, "treatment must be an (N, 3) integer array"),
])
def test_diary_kernel_rejects_bad_input(kw: dict, message: str) -> None:
    with pytest.raises(ProtocolError, match=re.escape(message)):
        _kernel(**kw)
