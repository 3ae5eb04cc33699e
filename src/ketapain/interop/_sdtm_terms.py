"""CDISC controlled terms used by the SDTM and ADaM exports, and the ketapain -> CDISC maps.

The CDISC terms come from one versioned file shipped with the package,
``interop/data/cdisc_ct_subset.json`` (codelist short name and NCI code, extensibility, the
submission values used with their NCI codes, the CT package and date, and where the values
were transcribed from); :func:`ct_codelists` reads it and :data:`CODELISTS` lists its values.
A few variables have no CDISC codelist (AEREL, CMCAT, CMCLAS); their sponsor-defined values
are listed here too so the tests and docs read them from one place.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

import pandas as pd

__all__ = [
    "AEREL_MAP",
    "CODELISTS",
    "CT_PACKAGES",
    "CtCodelist",
    "DRUG_CLASS_LABELS",
    "QSCAT_MAP",
    "SEVERITY_MAP",
    "ae_verbatim",
    "ct_codelists",
    "epoch_label",
    "qs_category",
    "sas_code",
]


@dataclass(frozen=True, slots=True)
class CtCodelist:
    """One CDISC codelist of the shipped subset: short name, NCI code, name, CT package,
    extensibility, and its terms (submission value -> NCI code, blank when not transcribed)."""

    short_name: str
    code: str
    name: str
    package: str
    extensible: bool
    terms: Mapping[str, str]
    extended: frozenset[str]
    external: str = ""
    pattern: str = ""

    def allows(self, values: pd.Series) -> pd.Series:
        """True where a (non-blank) value is a term of the codelist (or matches its external pattern)."""
        text = values.astype(str)
        if self.pattern:
            return text.str.fullmatch(self.pattern).astype(bool)
        return text.isin(set(self.terms))


@cache
def _ct_file() -> dict[str, Any]:
    raw = resources.files("ketapain.interop").joinpath("data/cdisc_ct_subset.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(raw)
    return data


def ct_codelists() -> Mapping[str, CtCodelist]:
    """The shipped CT subset: codelist short name (``"SEX"``) -> :class:`CtCodelist`.

    >>> ct_codelists()["SEX"].code, ct_codelists()["SEX"].terms["F"]
    ('C66731', 'C16576')
    """
    data = _ct_file()
    return MappingProxyType({
        c["short_name"]: CtCodelist(
            short_name=c["short_name"], code=c["code"], name=c["name"], package=data["packages"][c["package"]],
            extensible=bool(c["extensible"]), terms=MappingProxyType({t["value"]: t["code"] for t in c["terms"]}),
            extended=frozenset(t["value"] for t in c["terms"] if t.get("extended")),
            external=c.get("external", ""), pattern=c.get("pattern", ""))
        for c in data["codelists"]})


CT_PACKAGES: Mapping[str, str] = MappingProxyType(dict(_ct_file()["packages"]))
"""``"sdtm"`` / ``"adam"`` -> the CDISC CT package the subset was taken from (name and date)."""

CODELISTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {name: tuple(c.terms) for name, c in ct_codelists().items()})
"""CDISC codelist short name -> the submission values of the shipped subset."""

QSCAT_MAP: Mapping[str, str] = MappingProxyType({
    "bpi": "BPI SHORT FORM",
    "sf36": "SF36 V1.0 STANDARD",
    "dn4": "DN4",
    "hads": "HADS",
    "npsi": "NPSI",
    "psqi": "PSQI",
    "pgic": "PGIC",
    "qdsa": "QDSA",
    "blinding": "BLINDING",
})
"""Instrument name -> QSCAT (CDISC CT codelist QSCAT, C100129; DN4, NPSI, PGIC, QDSA, BLINDING
and the diary's PAIN DIARY are sponsor extensions of this extensible codelist: CDISC has no
term for them in SDTM CT, see the sources of ``data/cdisc_ct_subset.json``). SF-36 is scored with the version 1 standard form by default
(:mod:`ketapain.instruments.sf36`)."""


def qs_category(instrument: str) -> str:
    """QSCAT of an instrument: :data:`QSCAT_MAP`, else the name in upper case.

    >>> qs_category("bpi"), qs_category("my_scale")
    ('BPI SHORT FORM', 'MY_SCALE')
    """
    return QSCAT_MAP.get(instrument.lower(), instrument.upper())


_TERM_CODE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")


def ae_verbatim(terms: pd.Series) -> pd.Series:
    """AETERM, the reported term as text: a term written as a code (lower-case words joined
    by ``_``, as the simulator writes them: ``high_blood_pressure``) becomes its words with
    a capital (``High blood pressure``); any other term (typed in the capture app) is kept
    as it is.

    >>> ae_verbatim(pd.Series(["feeling_drunk", "Headache after infusion"])).tolist()
    ['Feeling drunk', 'Headache after infusion']
    """
    text = terms.astype("object").where(terms.notna(), "").astype(str)
    code = text.str.fullmatch(_TERM_CODE.pattern).astype(bool)
    words = text.str.replace("_", " ", regex=False).str.capitalize()
    return words.where(code, text)

SEVERITY_MAP: Mapping[str, str] = MappingProxyType({"mild": "MILD", "moderate": "MODERATE", "severe": "SEVERE"})
"""``adverse_events.severity`` -> AESEV (CDISC codelist AESEV, C66769)."""

AEREL_MAP: Mapping[str, str] = MappingProxyType({
    "unrelated": "NOT RELATED",
    "unlikely": "UNLIKELY RELATED",
    "possibly": "POSSIBLY RELATED",
    "probably": "PROBABLY RELATED",
    "certainly": "RELATED",
})
"""``adverse_events.causality`` -> AEREL (sponsor-defined: CDISC has no codelist for AEREL)."""

DRUG_CLASS_LABELS: Mapping[str, str] = MappingProxyType({
    "paracetamol_nsaids": "PARACETAMOL/NSAIDS",
    "nefopam": "NEFOPAM",
    "tramadol": "TRAMADOL",
    "fentanyl": "FENTANYL",
    "paracetamol_opium": "PARACETAMOL/OPIUM",
    "antidepressants": "ANTIDEPRESSANTS",
    "antiepileptics": "ANTIEPILEPTICS",
    "adjuvants": "ADJUVANTS",
    "hypnotics_sedatives": "HYPNOTICS/SEDATIVES",
    "anxiolytics": "ANXIOLYTICS",
    "antipsychotics": "ANTIPSYCHOTICS",
})
"""``concomitant.drug_class`` -> CMCLAS (the protocol's classes, sponsor-defined)."""


def epoch_label(period: int) -> str:
    """EPOCH of a period: 0 -> ``"SCREENING"``, k >= 1 -> ``"TREATMENT k"``.

    >>> epoch_label(0), epoch_label(2)
    ('SCREENING', 'TREATMENT 2')
    """
    return "SCREENING" if period == 0 else f"TREATMENT {period}"


_NOT_CODE = re.compile(r"[^A-Z0-9]")


def sas_code(text: str) -> str:
    """Upper-case letters and digits of ``text`` (a candidate --TESTCD / PARAMCD).

    >>> sas_code("night_pain"), sas_code("9a")
    ('NIGHTPAIN', '9A')
    """
    return _NOT_CODE.sub("", text.upper())
