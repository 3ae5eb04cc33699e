"""The converters on a protocol's own diary scale: a VAS 0..100 trial goes out and comes back
through ODM (the pain items' RangeCheck is the protocol's scale) and REDCap (the dictionary's
validation range is the protocol's scale), where before the import refused every value above 10."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

import scales
from ketapain.errors import DataError
from ketapain.interop import (
    ODM_NAMESPACE,
    canonical_order,
    from_odm,
    read_redcap,
    redcap_dictionary,
    to_odm,
    write_redcap_project,
)
from ketapain.protocol import Protocol
from ketapain.simulate import simulate_trial

NS = f"{{{ODM_NAMESPACE}}}"


@pytest.fixture(scope="module")
def vas(tmp_path_factory: pytest.TempPathFactory) -> Protocol:
    return scales.on_scale(tmp_path_factory.mktemp("vas"), 0, 100)


@pytest.fixture(scope="module")
def trial(vas: Protocol):  # type: ignore[no-untyped-def]
    data = simulate_trial(vas, n_patients=6, seed=2)
    assert data.diary["avg_pain"].max() > 10
    return data


def _range(xml: bytes, alias: str) -> dict[str, str]:
    root = ET.fromstring(xml)
    for idef in root.iter(f"{NS}ItemDef"):
        if any(a.get("Name") == alias for a in idef.findall(f"{NS}Alias")):
            return {rc.get("Comparator", ""): rc.findtext(f"{NS}CheckValue", "") for rc in idef.findall(f"{NS}RangeCheck")}
    raise AssertionError(alias)


def test_odm_round_trip_on_a_vas(vas: Protocol, trial, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    xml = to_odm(trial, vas)
    for alias in ("diary.avg_pain", "diary.max_pain", "allocation.pre_infusion_pain"):
        assert _range(xml, alias) == {"GE": "0", "LE": "100"}
    assert _range(xml, "patients.age_years") == {"GE": "18", "LE": "120"}  # other ranges: the schema's
    back = from_odm(xml)
    assert back.equals(canonical_order(trial))
    # a value above the document's own scale is refused with it
    bad = re.sub(rb'ItemOID="IT.DIARY.avg_pain" Value="[0-9.]+"', b'ItemOID="IT.DIARY.avg_pain" Value="101"', xml, count=1)
    assert bad != xml
    with pytest.raises(DataError, match=r"avg_pain=101 is outside 0\.\.100"):
        from_odm(bad)


def test_redcap_round_trip_on_a_vas(vas: Protocol, trial, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_redcap_project(vas, tmp_path, data=trial)
    d = redcap_dictionary(vas, data=trial).set_index("Variable / Field Name")
    for field in ("avg_pain", "pre_infusion_pain"):
        assert (d.loc[field, "Text Validation Min"], d.loc[field, "Text Validation Max"]) == ("0", "100")
    assert "0-100 scale" in d.loc["pre_infusion_pain", "Field Label"]
    back = read_redcap(tmp_path / "records.csv", protocol=vas, mapping=tmp_path / "mapping.json")
    for name, table in canonical_order(trial).to_tables().items():
        pd.testing.assert_frame_equal(back.table(name), table, obj=name)
    records = pd.read_csv(tmp_path / "records.csv", dtype=str, keep_default_na=False)
    row = int((records["avg_pain"] != "").to_numpy().nonzero()[0][0])
    records.loc[row, "avg_pain"] = "101"
    records.to_csv(tmp_path / "records.csv", index=False)
    with pytest.raises(DataError, match=r"field avg_pain = 101 is outside 0\.\.100"):
        read_redcap(tmp_path / "records.csv", protocol=vas, mapping=tmp_path / "mapping.json")
