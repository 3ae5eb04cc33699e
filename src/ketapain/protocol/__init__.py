"""The study as data: a protocol file (TOML) validated into frozen pydantic models.

Load the reference study with ``load_protocol("ketapain")``, any other study with
``load_protocol("path/to/study.toml")``. Every key, type, default and allowed value is
documented in ``docs/protocol.md``; invalid files raise :class:`ketapain.errors.ProtocolError`
listing every problem as ``<file>: <key path>: <message>``.
"""

from __future__ import annotations

from ketapain.protocol._contract import data_contract
from ketapain.protocol._load import list_protocols, load_protocol
from ketapain.protocol._models import (
    Analysis,
    Arm,
    Auc,
    Blinding,
    Component,
    Criterion,
    Design,
    DfMethod,
    Diary,
    Dose,
    Eligibility,
    Endpoint,
    FixedDose,
    Gate,
    Impute,
    Infusion,
    Model,
    PerKgDose,
    PlaceboDose,
    Protocol,
    Randomisation,
    RuleValue,
    SampleSize,
    Stock,
    Study,
    Visit,
    Weights,
)
from ketapain.protocol._template import TEMPLATE_DESIGNS, protocol_template

__all__ = [
    "Analysis",
    "Arm",
    "Auc",
    "Blinding",
    "Component",
    "Criterion",
    "Design",
    "DfMethod",
    "Diary",
    "Dose",
    "Eligibility",
    "Endpoint",
    "FixedDose",
    "Gate",
    "Impute",
    "Infusion",
    "Model",
    "PerKgDose",
    "PlaceboDose",
    "Protocol",
    "Randomisation",
    "RuleValue",
    "SampleSize",
    "Stock",
    "Study",
    "TEMPLATE_DESIGNS",
    "Visit",
    "Weights",
    "data_contract",
    "list_protocols",
    "load_protocol",
    "protocol_template",
]
