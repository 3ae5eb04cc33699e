"""``[[sites]]`` and ``[study] race_collected`` (issue 20): the recruiting centres of a study
and whether race is collected; ``Protocol.visit_anchor``."""

from __future__ import annotations

from importlib import resources

import pytest

from ketapain.errors import ProtocolError
from ketapain.protocol import Protocol, Site, load_protocol, protocol_template

KETAPAIN_TEXT = (resources.files("ketapain.protocol") / "files" / "ketapain.toml").read_text(encoding="utf-8")
SITE = '[[sites]]\nid = "CFD"\nname = "CHU Clermont-Ferrand"\ncountry = "FRA"\n'


def errors_of(text: str) -> list[str]:
    with pytest.raises(ProtocolError) as info:
        Protocol.from_toml_text(text, source="p.toml")
    return str(info.value).splitlines()


def test_the_reference_study_has_one_french_site_and_does_not_collect_race() -> None:
    p = load_protocol("ketapain")
    assert p.sites == (Site(id="CFD", name="CHU Clermont-Ferrand", country="FRA"),)
    assert p.study.race_collected is False
    assert p.site("CFD").country == "FRA"


def test_a_protocol_without_sites_is_valid_and_race_defaults_to_not_collected() -> None:
    text = KETAPAIN_TEXT.replace(SITE, "").replace("race_collected = false\n", "")
    assert "[[sites]]" not in text
    p = Protocol.from_toml_text(text)
    assert p.sites == ()
    assert p.study.race_collected is False
    with pytest.raises(ProtocolError, match=r"site 'CFD' is not a site of the protocol; its sites: none"):
        p.site("CFD")


def test_unknown_site_lists_the_sites() -> None:
    with pytest.raises(ProtocolError, match=r"site 'X' is not a site of the protocol; its sites: 'CFD'"):
        load_protocol("ketapain").site("X")


@pytest.mark.parametrize("country", ["FR", "fra", "FRANCE", "F1A"])
def test_country_must_be_iso_alpha3(country: str) -> None:
    text = KETAPAIN_TEXT.replace('country = "FRA"', f'country = "{country}"')
    assert errors_of(text) == [
        f"p.toml: sites[0].country: {country!r} is not an ISO 3166-1 alpha-3 code (3 capital letters, e.g. 'FRA')"]


def test_site_ids_are_unique_and_short_codes() -> None:
    two = KETAPAIN_TEXT.replace(SITE, SITE + SITE.replace("CHU Clermont-Ferrand", "Other"))
    assert errors_of(two) == ["p.toml: sites[1].id: duplicate site id 'CFD' (already at [0])"]
    bad = KETAPAIN_TEXT.replace('id = "CFD"', 'id = "a site"')
    assert errors_of(bad) == ["p.toml: sites[0].id: 'a site' is not a short site code (a letter or digit, then up to 31 "
                              "letters, digits, _ or -)"]


def test_race_collected_must_be_a_boolean_and_sites_have_no_other_keys() -> None:
    [line] = errors_of(KETAPAIN_TEXT.replace("race_collected = false", 'race_collected = "no"'))
    assert line.startswith("p.toml: study.race_collected: ")
    [line] = errors_of(KETAPAIN_TEXT.replace('country = "FRA"', 'country = "FRA"\ncity = "Clermont"'))
    assert line == "p.toml: sites[0].city: unknown key; allowed keys: id, name, country"


@pytest.mark.parametrize(("design", "arms"), [("ab/ba", None), ("williams", 3), ("abab/baba", None)])
def test_templates_have_a_site_and_say_race_is_not_collected(design: str, arms: int | None) -> None:
    p = Protocol.from_toml_text(protocol_template(design, arms=arms))
    assert [s.id for s in p.sites] == ["S01"]
    assert p.study.race_collected is False


def test_visit_anchor_follows_the_capture_rule() -> None:
    p = load_protocol("ketapain")  # 35-day periods, no washout
    assert [p.visit_anchor(v.day) for v in p.visits] == [(1, -14), (1, 0), (1, 35), (2, 35), (3, 35)]
    ab = load_protocol("ab_ba_example")
    gap = ab.design.period_days + (ab.design.washout_days or 0)
    assert ab.visit_anchor(gap + 1) == (2, 1)
    assert ab.visit_anchor(gap) == (1, gap)
    assert ab.visit_anchor(10 * gap) == (ab.design.periods, 10 * gap - (ab.design.periods - 1) * gap)
