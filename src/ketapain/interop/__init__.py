"""Interoperability: CDISC SDTM/ADaM, Stata, ODM, REDCap, FHIR and spreadsheets, out of and into TrialData.

Exports take a :class:`~ketapain.data.TrialData` and its :class:`~ketapain.protocol.Protocol`;
imports give back a TrialData. SDTM and ADaM packages are written with a Define-XML 2.0
``define.xml``; AE coding takes a user-supplied MedDRA mapping (:func:`load_meddra_mapping`).
docs/interop-cdisc.md and docs/interop-stata.md describe the CDISC and Stata mappings;
docs/import-spreadsheets.md the spreadsheet mapping file.

Needs the ``[interop]`` extra (pyreadstat for SAS XPORT, fhir.resources for FHIR validation,
openpyxl for Excel files):
without it, importing this package raises an ``ImportError`` that says
``pip install 'ketapain[interop]'``.
"""

from __future__ import annotations

from ketapain._extras import require_extra

require_extra("interop")  # before pyreadstat or fhir.resources is needed

# CDISC SDTM and ADaM, Stata (modules _sdtm*, _adam*, _xpt, _stata)
from ._adam import AdamPackage, read_adam, to_adam, write_adam  # noqa: E402

# ODM, REDCap, FHIR (modules _odm*, _redcap*, _fhir*)
from ._fhir_study import (  # noqa: E402
    fhir_patients,
    from_fhir_bundle,
    research_study,
    research_subjects,
    to_fhir_bundle,
    validate_fhir,
)
from ._meddra import load_meddra_mapping  # noqa: E402
from ._odm import ODM_NAMESPACE, from_odm, to_odm  # noqa: E402
from ._odm_values import canonical_order  # noqa: E402
from ._redcap import (  # noqa: E402
    DICTIONARY_COLUMNS,
    REDCAP_ID_COLUMNS,
    redcap_dictionary,
    redcap_instrument_events,
    redcap_mapping,
    to_redcap_records,
    write_redcap_project,
)
from ._redcap_read import read_redcap  # noqa: E402
from ._sdtm import SdtmPackage, to_sdtm, write_sdtm  # noqa: E402

# spreadsheets (CSV, Excel .xlsx) through a mapping file (modules _spreadsheet*)
from ._spreadsheet import SpreadsheetImport, import_spreadsheet  # noqa: E402
from ._spreadsheet_map import DIARY_LAYOUTS, SpreadsheetMapping, load_spreadsheet_mapping  # noqa: E402
from ._stata import write_stata  # noqa: E402

__all__ = [
    "AdamPackage",
    "DIARY_LAYOUTS",
    "DICTIONARY_COLUMNS",
    "ODM_NAMESPACE",
    "REDCAP_ID_COLUMNS",
    "SdtmPackage",
    "SpreadsheetImport",
    "SpreadsheetMapping",
    "canonical_order",
    "fhir_patients",
    "from_fhir_bundle",
    "from_odm",
    "import_spreadsheet",
    "load_meddra_mapping",
    "load_spreadsheet_mapping",
    "read_adam",
    "read_redcap",
    "redcap_dictionary",
    "redcap_instrument_events",
    "redcap_mapping",
    "research_study",
    "research_subjects",
    "to_adam",
    "to_fhir_bundle",
    "to_odm",
    "to_redcap_records",
    "to_sdtm",
    "validate_fhir",
    "write_adam",
    "write_redcap_project",
    "write_sdtm",
    "write_stata",
]
