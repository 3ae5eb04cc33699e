"""Interoperability: CDISC SDTM/ADaM, Stata, ODM, REDCap and FHIR, out of and into TrialData.

Exports take a :class:`~ketapain.data.TrialData` and its :class:`~ketapain.protocol.Protocol`;
imports give back a TrialData. docs/interop-cdisc.md and docs/interop-stata.md describe the
CDISC and Stata mappings.
"""

from __future__ import annotations

# --- part A: CDISC SDTM and ADaM, Stata (modules _sdtm*, _adam*, _xpt, _stata) ---
from ._adam import AdamPackage, read_adam, to_adam, write_adam
from ._sdtm import SdtmPackage, to_sdtm, write_sdtm
from ._stata import write_stata

_PART_A = [
    "AdamPackage",
    "SdtmPackage",
    "read_adam",
    "to_adam",
    "to_sdtm",
    "write_adam",
    "write_sdtm",
    "write_stata",
]
# --- end of part A ---

# --- part B: ODM, REDCap, FHIR (modules _odm*, _redcap*, _fhir*) ---
from ._fhir_study import fhir_patients, from_fhir_bundle, research_study, research_subjects, to_fhir_bundle, validate_fhir
from ._odm import ODM_NAMESPACE, from_odm, to_odm
from ._odm_values import canonical_order
from ._redcap import (
    DICTIONARY_COLUMNS,
    REDCAP_ID_COLUMNS,
    redcap_dictionary,
    redcap_instrument_events,
    redcap_mapping,
    to_redcap_records,
    write_redcap_project,
)
from ._redcap_read import read_redcap

_PART_B = [
    "DICTIONARY_COLUMNS",
    "ODM_NAMESPACE",
    "REDCAP_ID_COLUMNS",
    "canonical_order",
    "fhir_patients",
    "from_fhir_bundle",
    "from_odm",
    "read_redcap",
    "redcap_dictionary",
    "redcap_instrument_events",
    "redcap_mapping",
    "research_study",
    "research_subjects",
    "to_fhir_bundle",
    "to_odm",
    "to_redcap_records",
    "validate_fhir",
    "write_redcap_project",
]
# --- end of part B ---

__all__ = sorted(_PART_A + _PART_B)
