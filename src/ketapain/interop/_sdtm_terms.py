"""CDISC controlled terms used by the SDTM and ADaM exports, and the ketapain -> CDISC maps.

Codelists are named by their CDISC submission short names (SEX, NY, AESEV, ROUTE, AGEU,
UNIT, EPOCH, DTYPE); the values are the CDISC submission values of the terms used. A
few variables have no CDISC codelist (AEREL, CMCAT, CMCLAS); their sponsor-defined values
are listed here too so the tests and docs read them from one place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "AEREL_MAP",
    "CODELISTS",
    "DRUG_CLASS_LABELS",
    "SEVERITY_MAP",
    "epoch_label",
    "sas_code",
]

CODELISTS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "SEX": ("M", "F", "U", "UNDIFFERENTIATED"),
    "NY": ("N", "Y", "U", "NA"),
    "AESEV": ("MILD", "MODERATE", "SEVERE"),
    "ROUTE": ("INTRAVENOUS",),
    "AGEU": ("YEARS",),
    "UNIT": ("mg", "mL"),
    "FRM": ("SOLUTION",),
    "ND": ("NOT DONE",),
    "DTYPE": ("LOCF", "INTERP"),
    "DOMAIN": ("DM", "EX", "AE", "CM", "QS", "SE", "TA", "TE", "TV"),
})
"""CDISC codelist short name -> the submission values ketapain uses (a subset of each list)."""

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
