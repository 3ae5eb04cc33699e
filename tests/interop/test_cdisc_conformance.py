"""SDTM and ADaM exports checked against the published rules, not against themselves.

References (each table below names its source):
- SDTMIG 3.4 (CDISC, 2021): section 4.1.4 (variable order), 4.4.4 (study day, no day 0),
  4.4.1 (ISO 8601 dates), 4.1.3.1 / 5.3.1 (EPOCH from the subject's elements, SE), 4.5.1.1
  (--TESTCD at most 8 characters, --TEST at most 40), 6.x domain tables (Core: Req / Exp / Perm).
- ADaMIG 1.3 (CDISC, 2021): section 3.2 (ADSL: required variables, TRTxxP, APxxSDT/APxxEDT),
  3.3 (BDS: PARAM, PARAMCD <= 8 characters, AVAL, TRTP/TRTA).
- CDISC CT: the subset shipped in ketapain/interop/data/cdisc_ct_subset.json (SDTM CT
  2024-03-29, ADaM CT 2024-03-29), every CT-controlled variable checked against it.
"""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from ketapain.interop import to_adam, to_sdtm
from ketapain.protocol import load_protocol
from ketapain.simulate import simulate_trial

C, N = "Char", "Num"

# SDTMIG 3.4 domain tables: the variables ketapain exports or must export, in the IG's order,
# with their Core and type. EXVAMT/EXVAMTU are Interventions general-class variables (SDTM v2.0
# section 3.1.1, after --ROUTE).
SDTMIG_34 = {
    "DM": [("STUDYID", "Req", C), ("DOMAIN", "Req", C), ("USUBJID", "Req", C), ("SUBJID", "Req", C),
           ("RFSTDTC", "Exp", C), ("RFENDTC", "Exp", C), ("RFXSTDTC", "Exp", C), ("RFXENDTC", "Exp", C),
           ("RFICDTC", "Exp", C), ("RFPENDTC", "Exp", C), ("DTHDTC", "Exp", C), ("DTHFL", "Exp", C),
           ("SITEID", "Req", C), ("INVID", "Perm", C), ("BRTHDTC", "Perm", C), ("AGE", "Exp", N), ("AGEU", "Exp", C),
           ("SEX", "Req", C), ("RACE", "Exp", C), ("ETHNIC", "Perm", C), ("ARMCD", "Exp", C), ("ARM", "Exp", C),
           ("ACTARMCD", "Exp", C), ("ACTARM", "Exp", C), ("ARMNRS", "Exp", C), ("ACTARMUD", "Exp", C),
           ("COUNTRY", "Req", C), ("DMDTC", "Perm", C), ("DMDY", "Perm", N)],
    "EX": [("STUDYID", "Req", C), ("DOMAIN", "Req", C), ("USUBJID", "Req", C), ("EXSEQ", "Req", N),
           ("EXGRPID", "Perm", C), ("EXREFID", "Perm", C), ("EXSPID", "Perm", C), ("EXTRT", "Req", C),
           ("EXCAT", "Perm", C), ("EXDOSE", "Exp", N), ("EXDOSTXT", "Perm", C), ("EXDOSU", "Exp", C),
           ("EXDOSFRM", "Exp", C), ("EXDOSFRQ", "Perm", C), ("EXROUTE", "Perm", C), ("EXVAMT", "Perm", N),
           ("EXVAMTU", "Perm", C), ("EPOCH", "Perm", C), ("EXSTDTC", "Exp", C), ("EXENDTC", "Exp", C),
           ("EXSTDY", "Perm", N), ("EXENDY", "Perm", N)],
    "AE": [("STUDYID", "Req", C), ("DOMAIN", "Req", C), ("USUBJID", "Req", C), ("AESEQ", "Req", N),
           ("AEGRPID", "Perm", C), ("AEREFID", "Perm", C), ("AESPID", "Perm", C), ("AETERM", "Req", C),
           ("AEMODIFY", "Perm", C), ("AELLT", "Exp", C), ("AELLTCD", "Exp", N), ("AEDECOD", "Req", C),
           ("AEPTCD", "Exp", N), ("AEHLT", "Exp", C), ("AEHLTCD", "Exp", N), ("AEHLGT", "Exp", C),
           ("AEHLGTCD", "Exp", N), ("AECAT", "Perm", C), ("AEBODSYS", "Exp", C), ("AEBDSYCD", "Exp", N),
           ("AESOC", "Exp", C), ("AESOCCD", "Exp", N), ("AESEV", "Perm", C), ("AESER", "Exp", C),
           ("AEACN", "Exp", C), ("AEREL", "Exp", C), ("AEOUT", "Perm", C), ("EPOCH", "Perm", C),
           ("AESTDTC", "Exp", C), ("AEENDTC", "Exp", C), ("AESTDY", "Perm", N), ("AEENDY", "Perm", N)],
    "CM": [("STUDYID", "Req", C), ("DOMAIN", "Req", C), ("USUBJID", "Req", C), ("CMSEQ", "Req", N),
           ("CMSPID", "Perm", C), ("CMTRT", "Req", C), ("CMDECOD", "Perm", C), ("CMCAT", "Perm", C),
           ("CMCLAS", "Perm", C), ("EPOCH", "Perm", C), ("CMSTDTC", "Perm", C)],
    "QS": [("STUDYID", "Req", C), ("DOMAIN", "Req", C), ("USUBJID", "Req", C), ("QSSEQ", "Req", N),
           ("QSSPID", "Perm", C), ("QSTESTCD", "Req", C), ("QSTEST", "Req", C), ("QSCAT", "Req", C),
           ("QSSCAT", "Perm", C), ("QSORRES", "Exp", C), ("QSORRESU", "Perm", C), ("QSSTRESC", "Exp", C),
           ("QSSTRESN", "Exp", N), ("QSSTRESU", "Perm", C), ("QSSTAT", "Perm", C), ("QSREASND", "Perm", C),
           ("QSLOBXFL", "Exp", C), ("QSDRVFL", "Perm", C), ("VISITNUM", "Exp", N), ("VISIT", "Perm", C),
           ("VISITDY", "Perm", N), ("EPOCH", "Perm", C), ("QSDTC", "Exp", C), ("QSDY", "Perm", N),
           ("QSTPT", "Perm", C), ("QSTPTNUM", "Perm", N), ("QSTPTREF", "Perm", C)],
    "SE": [("STUDYID", "Req", C), ("DOMAIN", "Req", C), ("USUBJID", "Req", C), ("SESEQ", "Req", N),
           ("ETCD", "Req", C), ("ELEMENT", "Perm", C), ("TAETORD", "Perm", N), ("EPOCH", "Perm", C),
           ("SESTDTC", "Req", C), ("SEENDTC", "Exp", C), ("SESTDY", "Perm", N), ("SEENDY", "Perm", N)],
    "TA": [("STUDYID", "Req", C), ("DOMAIN", "Req", C), ("ARMCD", "Req", C), ("ARM", "Req", C),
           ("TAETORD", "Req", N), ("ETCD", "Req", C), ("ELEMENT", "Perm", C), ("TABRANCH", "Exp", C),
           ("TATRANS", "Exp", C), ("EPOCH", "Req", C)],
    "TE": [("STUDYID", "Req", C), ("DOMAIN", "Req", C), ("ETCD", "Req", C), ("ELEMENT", "Req", C),
           ("TESTRL", "Req", C), ("TEENRL", "Perm", C), ("TEDUR", "Perm", C)],
    "TV": [("STUDYID", "Req", C), ("DOMAIN", "Req", C), ("VISITNUM", "Req", N), ("VISIT", "Perm", C),
           ("VISITDY", "Perm", N), ("ARMCD", "Exp", C), ("ARM", "Perm", C), ("TVSTRL", "Req", C),
           ("TVENRL", "Perm", C)],
}

# Variables whose values SDTMIG 3.4 / ADaMIG 1.3 control with a CDISC codelist -> its short name
CT_CONTROLLED = {
    ("DM", "DOMAIN"): "DOMAIN", ("DM", "AGEU"): "AGEU", ("DM", "SEX"): "SEX", ("DM", "RACE"): "RACE",
    ("DM", "ARMNRS"): "ARMNULRS", ("DM", "COUNTRY"): "COUNTRY", ("DM", "DTHFL"): "NY",
    ("EX", "DOMAIN"): "DOMAIN", ("EX", "EXDOSU"): "UNIT", ("EX", "EXDOSFRM"): "FRM", ("EX", "EXROUTE"): "ROUTE",
    ("EX", "EXVAMTU"): "UNIT", ("EX", "EPOCH"): "EPOCH",
    ("AE", "DOMAIN"): "DOMAIN", ("AE", "AESEV"): "AESEV", ("AE", "AESER"): "NY", ("AE", "EPOCH"): "EPOCH",
    ("CM", "DOMAIN"): "DOMAIN", ("CM", "EPOCH"): "EPOCH",
    ("QS", "DOMAIN"): "DOMAIN", ("QS", "QSCAT"): "QSCAT", ("QS", "QSSTAT"): "ND", ("QS", "QSLOBXFL"): "NY",
    ("QS", "QSDRVFL"): "NY", ("QS", "EPOCH"): "EPOCH",
    ("SE", "DOMAIN"): "DOMAIN", ("SE", "EPOCH"): "EPOCH", ("TA", "DOMAIN"): "DOMAIN", ("TA", "EPOCH"): "EPOCH",
    ("TE", "DOMAIN"): "DOMAIN", ("TV", "DOMAIN"): "DOMAIN",
    ("ADSL", "AGEU"): "AGEU", ("ADSL", "SEX"): "SEX", ("ADSL", "RACE"): "RACE", ("ADSL", "COUNTRY"): "COUNTRY",
    ("ADSL", "RANDFL"): "NY", ("ADSL", "ITTFL"): "NY", ("ADSL", "SAFFL"): "NY",
    ("ADAUC", "DTYPE"): "DTYPE", ("ADQS", "ABLFL"): "NY",
}

# --DTC / --DY pairs (SDTMIG 3.4 section 4.4.4)
DY_PAIRS = [("EX", "EXSTDTC", "EXSTDY"), ("EX", "EXENDTC", "EXENDY"), ("AE", "AESTDTC", "AESTDY"),
            ("QS", "QSDTC", "QSDY"), ("SE", "SESTDTC", "SESTDY"), ("SE", "SEENDTC", "SEENDY")]

# ADaMIG 1.3 section 3.2, ADSL: Req variables (TRTxxP required for each period)
ADSL_REQ = ["STUDYID", "USUBJID", "SUBJID", "SITEID", "AGE", "AGEU", "SEX", "RACE", "ARM", "ACTARM"]


@pytest.fixture(scope="module")
def protocol():
    return load_protocol("ketapain")


@pytest.fixture(scope="module")
def trial(protocol, completed):
    return completed(simulate_trial(protocol, n_patients=10, seed=23), protocol)


@pytest.fixture(scope="module")
def sdtm(trial, protocol, meddra_pt):
    return to_sdtm(trial, protocol, meddra=meddra_pt)


@pytest.fixture(scope="module")
def adam(trial, protocol):
    return to_adam(trial, protocol)


@pytest.fixture(scope="module")
def ct():
    raw = resources.files("ketapain.interop").joinpath("data/cdisc_ct_subset.json").read_text(encoding="utf-8")
    return json.loads(raw)


# ---------------------------------------------------------------- SDTM structure
@pytest.mark.parametrize("domain", list(SDTMIG_34))
def test_required_and_expected_variables_order_and_types(sdtm, domain):
    frame = sdtm[domain]
    meta = sdtm.variables[sdtm.variables["dataset"] == domain].set_index("variable")
    ig = SDTMIG_34[domain]
    ig_order = [v for v, _, _ in ig]
    assert set(frame.columns) <= set(ig_order), f"{domain}: variables not in SDTMIG 3.4: {set(frame.columns) - set(ig_order)}"
    for var, core, typ in ig:
        if core in ("Req", "Exp"):
            assert var in frame.columns, f"{domain}.{var} ({core}) is missing"
        if var in frame.columns:
            assert meta.loc[var, "type"] == typ, f"{domain}.{var} should be {typ}"
            assert pd.api.types.is_float_dtype(frame[var]) == (typ == N)
        if core == "Req" and var in frame.columns:
            assert (frame[var].astype(str) != "").all() and frame[var].notna().all(), f"{domain}.{var} (Req) has blanks"
    # SDTMIG 3.4 section 4.1.4: variables in the order of the domain table
    positions = [ig_order.index(c) for c in frame.columns]
    assert positions == sorted(positions), f"{domain} order {list(frame.columns)}"


def test_dates_are_iso_8601(sdtm):
    for domain in SDTMIG_34:
        frame = sdtm[domain]
        for var in [c for c in frame.columns if c.endswith("DTC")]:
            values = frame[var][frame[var] != ""]
            assert values.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all(), f"{domain}.{var}"
            assert pd.to_datetime(values, format="%Y-%m-%d", errors="coerce").notna().all()


@pytest.mark.parametrize(("domain", "dtc", "dy"), DY_PAIRS)
def test_study_day_per_sdtmig_no_day_zero(sdtm, domain, dtc, dy):
    frame = sdtm[domain]
    ref = frame["USUBJID"].map(sdtm["DM"].set_index("USUBJID")["RFSTDTC"])
    has = (frame[dtc] != "") & (ref != "")
    assert has.any()
    days = (pd.to_datetime(frame.loc[has, dtc]) - pd.to_datetime(ref[has])).dt.days.to_numpy()
    expected = np.where(days >= 0, days + 1, days)  # SDTMIG 3.4 4.4.4: day 1 = RFSTDTC, the day before = -1
    np.testing.assert_array_equal(frame.loc[has, dy].to_numpy(), expected.astype(float))
    assert (frame[dy] != 0).all()
    assert frame.loc[~has, dy].isna().all()


def _se_epoch(sdtm, frame, dtc):
    """The EPOCH of each dated record from SE: the element with SESTDTC <= date, the latest one
    (a boundary date belongs to the element that starts on it); none after the last SEENDTC."""
    se = sdtm["SE"]
    rec = frame.loc[frame[dtc] != "", ["USUBJID", dtc, "EPOCH"]].reset_index()
    pairs = rec.merge(se[["USUBJID", "SESTDTC", "SEENDTC", "EPOCH", "TAETORD"]], on="USUBJID", suffixes=("", "_se"))
    start = pd.to_datetime(pairs["SESTDTC"].replace("", "1900-01-01"))
    pairs = pairs[start <= pd.to_datetime(pairs[dtc])]
    best = pairs.sort_values(["index", "SESTDTC", "TAETORD"]).drop_duplicates("index", keep="last").set_index("index")
    last_end = se.groupby("USUBJID")["SEENDTC"].max()
    after = pd.to_datetime(best[dtc]) > pd.to_datetime(best["USUBJID"].map(last_end))
    return best["EPOCH"], best["EPOCH_se"].where(~after, "")


@pytest.mark.parametrize(("domain", "dtc"), [("EX", "EXSTDTC"), ("AE", "AESTDTC"), ("QS", "QSDTC")])
def test_epoch_comes_from_se(sdtm, domain, dtc):
    got, expected = _se_epoch(sdtm, sdtm[domain], dtc)
    assert len(got) > 0
    assert (got == expected).all(), got[got != expected].head()


def test_diary_on_the_next_infusion_day_is_in_the_next_epoch(sdtm):
    """Issue 20: diary records dated on the next infusion carried the previous period's EPOCH."""
    qs = sdtm["QS"]
    diary = qs[(qs["QSCAT"] == "PAIN DIARY") & (qs["QSTPTNUM"] > 0)]
    ex = sdtm["EX"].drop_duplicates(["USUBJID", "EXSTDTC"])
    on_infusion = diary.merge(ex[["USUBJID", "EXSTDTC", "EPOCH"]], left_on=["USUBJID", "QSDTC"],
                              right_on=["USUBJID", "EXSTDTC"], suffixes=("", "_ex"))
    assert len(on_infusion) > 0  # the simulated diary runs to day 35, the next infusion day
    assert (on_infusion["EPOCH"] == on_infusion["EPOCH_ex"]).all()
    assert (on_infusion["QSTPTREF"] != "INFUSION " + on_infusion["EPOCH"].str[-1]).all()


# ---------------------------------------------------------------- controlled terminology
def test_ct_subset_names_its_package_and_sources(ct):
    assert ct["packages"]["sdtm"].startswith("SDTM CT 2024-03-29")
    assert ct["packages"]["adam"].startswith("ADaM CT 2024-03-29")
    assert ct["sources"]
    for cl in ct["codelists"]:
        # blank only for an external dictionary without a confirmed NCI code: COUNTRY (C66786 is
        # SEND's Country codelist, absent from SDTM CT; NCIEVS/evsrestapi-client-SDK@582e97f
        # curl-examples/samples/get-all-subsets.txt)
        assert cl["code"].startswith("C") or (cl["code"] == "" and cl.get("external")), cl["short_name"]
        assert cl["short_name"] and "extensible" in cl
        for term in cl["terms"]:
            assert term["code"] == "" or term["code"].startswith("C")
            # a sponsor extension is allowed only in an extensible codelist
            assert not term.get("extended") or cl["extensible"], (cl["short_name"], term["value"])


@pytest.mark.parametrize(("dataset", "var"), list(CT_CONTROLLED))
def test_ct_controlled_values_are_in_the_shipped_subset(sdtm, adam, ct, dataset, var):
    package = adam if dataset.startswith("AD") else sdtm
    frame = package[dataset]
    assert var in frame.columns
    short = CT_CONTROLLED[(dataset, var)]
    meta = package.variables[(package.variables["dataset"] == dataset) & (package.variables["variable"] == var)]
    assert meta["codelist"].item() == short, f"{dataset}.{var}: metadata codelist {meta['codelist'].item()!r}"
    codelist = next(c for c in ct["codelists"] if c["short_name"] == short)
    values = frame[var][frame[var] != ""]
    if "pattern" in codelist:
        assert values.str.fullmatch(codelist["pattern"]).all()
    else:
        assert set(values) <= {t["value"] for t in codelist["terms"]}, set(values) - {t["value"] for t in codelist["terms"]}


def test_qscat_uses_cdisc_terms_where_cdisc_has_them(sdtm, ct):
    """Issue 20: BPI -> BPI SHORT FORM (SDTMIG 3.4 QRS naming example); SF36 -> SF36 V1.0 STANDARD;
    DN4, NPSI, PGIC, QDSA, BLINDING and PAIN DIARY have no CDISC QSCAT term and are marked sponsor
    extensions (SDTM Terminology.txt of patterninstitute/sdtm.terminology@cc39317 and @1091442,
    data-raw/SDTM Terminology.tar.xz: QSCAT C100129 has BPI SHORT FORM C100760, SF36 V1.0 STANDARD
    C100775, HADS C103520, PSQI C103849 and none of those six)."""
    qscat = next(c for c in ct["codelists"] if c["short_name"] == "QSCAT")
    extended = {t["value"] for t in qscat["terms"] if t.get("extended")}
    cats = set(sdtm["QS"]["QSCAT"])
    assert {"BPI SHORT FORM", "SF36 V1.0 STANDARD", "PAIN DIARY"} <= cats
    assert not {"BPI", "SF36", "QDSA ", "DIARY"} & cats
    assert cats & extended == cats & {"DN4", "NPSI", "PGIC", "QDSA", "BLINDING", "PAIN DIARY"}
    assert {"QDSA", "BLINDING", "PAIN DIARY"} <= cats & extended
    codes = {t["value"]: t["code"] for t in qscat["terms"]}
    assert (codes["BPI SHORT FORM"], codes["SF36 V1.0 STANDARD"]) == ("C100760", "C100775")  # same source


# ---------------------------------------------------------------- record-level rules
def test_dm_arm_null_reason_and_required_values(sdtm):
    dm = sdtm["DM"]
    null = dm["ARMNRS"] != ""
    assert (dm.loc[null, ["ARMCD", "ARM", "ACTARMCD", "ACTARM"]] == "").all().all()
    assert (dm.loc[~null, ["ARMCD", "ARM"]] != "").all().all()
    assert dm["COUNTRY"].str.fullmatch(r"[A-Z]{3}").all() and (dm["SITEID"] != "").all()


def test_ae_term_is_verbatim_and_decod_is_dictionary_text(sdtm):
    ae = sdtm["AE"]
    assert not ae["AETERM"].str.fullmatch(r"[A-Za-z0-9]+(_[A-Za-z0-9]+)+").any()  # no codes like HIGH_BLOOD_PRESSURE
    assert (ae["AETERM"] != ae["AETERM"].str.upper()).all() | ae.empty
    assert (ae["AEDECOD"] != "").all()


def test_qs_not_done_has_a_reason_and_testcd_rules(sdtm):
    qs = sdtm["QS"]
    nd = qs["QSSTAT"] == "NOT DONE"
    assert nd.any()
    assert (qs.loc[nd, "QSORRES"] == "").all() and (qs.loc[nd, "QSREASND"] != "").all()
    assert (qs.loc[~nd, "QSREASND"] == "").all()
    # SDTMIG 3.4 4.5.1.1 / Appendix: --TESTCD <= 8 characters, letters/digits/_, not starting with a digit
    assert qs["QSTESTCD"].str.fullmatch(r"[A-Z_][A-Z0-9_]{0,7}").all()
    assert qs["QSTEST"].str.len().max() <= 40


def test_last_observation_before_exposure_flag(sdtm):
    qs = sdtm["QS"]
    flagged = qs[qs["QSLOBXFL"] == "Y"]
    assert len(flagged) > 0 and set(qs["QSLOBXFL"]) <= {"Y", ""}
    assert not flagged.duplicated(["USUBJID", "QSCAT", "QSTESTCD"]).any()
    ref = flagged["USUBJID"].map(sdtm["DM"].set_index("USUBJID")["RFXSTDTC"])
    assert (pd.to_datetime(flagged["QSDTC"]) <= pd.to_datetime(ref)).all()
    assert (flagged["QSORRES"] != "").all()


# ---------------------------------------------------------------- ADaM
def test_adsl_required_variables(adam, protocol):
    adsl = adam["ADSL"]
    assert not adsl["USUBJID"].duplicated().any()
    periods = protocol.design.periods
    needed = ADSL_REQ + [f"TRT{k:02d}P" for k in range(1, periods + 1)]
    for var in needed:
        assert var in adsl.columns, var
        assert (adsl[var].astype(str) != "").all() and adsl[var].notna().all(), f"ADSL.{var} has blanks"
    for k in range(1, periods + 1):  # crossover: actual treatment and period dates per period
        for var in (f"TRT{k:02d}A", f"AP{k:02d}SDT", f"AP{k:02d}EDT"):
            assert var in adsl.columns, var
    assert pd.api.types.is_float_dtype(adsl["AGE"]) and pd.api.types.is_float_dtype(adsl["AP01SDT"])
    assert (adsl["ARM"] != adsl["ARMCD"]).all()  # ARM is the description, ARMCD the code


def test_adsl_periods_do_not_share_a_day(adam, protocol):
    """Issue 20 rule: period k ends the day before period k+1 starts (the next infusion)."""
    adsl = adam["ADSL"]
    for k in range(1, protocol.design.periods):
        this_end, next_start = adsl[f"AP{k:02d}EDT"], adsl[f"AP{k + 1:02d}SDT"]
        assert (this_end == next_start - 1).all()
        assert (adsl[f"AP{k:02d}SDT"] <= this_end).all()
    last = protocol.design.periods
    assert (adsl[f"AP{last:02d}EDT"] - adsl[f"AP{last:02d}SDT"] == protocol.design.period_days).all()


@pytest.mark.parametrize("name", ["ADAUC", "ADQS"])
def test_bds_required_variables_and_param(adam, name):
    bds = adam[name]
    for var in ("STUDYID", "USUBJID", "PARAMCD", "PARAM", "AVAL", "TRTP", "TRTA", "APERIOD"):
        assert var in bds.columns, var
    for var in ("STUDYID", "USUBJID", "PARAMCD", "PARAM"):
        assert (bds[var] != "").all(), var
    # ADaMIG 1.3 3.3.4: PARAMCD <= 8 characters, letters, digits, underscores, not starting with a digit
    assert bds["PARAMCD"].str.fullmatch(r"[A-Z_][A-Z0-9_]{0,7}").all()
    # PARAM is a description (issue 20: not a code like "bpi.average"), one to one with PARAMCD
    assert not bds["PARAM"].str.fullmatch(r"[a-z0-9_.]+").any() and bds["PARAM"].str.contains(" ").all()
    assert bds["PARAM"].str.len().max() <= 200
    pairs = bds[["PARAMCD", "PARAM"]].drop_duplicates()
    assert not pairs["PARAMCD"].duplicated().any() and not pairs["PARAM"].duplicated().any()
    assert set(bds.loc[bds["APERIOD"].notna(), "TRTA"]) <= {"P", "K", "KM"}


def test_adam_names_and_labels_fit_xpt_v5(adam, sdtm):
    for package in (adam, sdtm):
        meta = package.variables
        assert meta["variable"].str.len().max() <= 8 and meta["label"].str.len().max() <= 40
