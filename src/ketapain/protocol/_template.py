"""Protocol templates: a commented TOML protocol for a new study (``ketapain init``).

A template is a complete, valid protocol (it loads with :func:`ketapain.protocol.load_protocol`)
whose every section carries a comment saying what to change. The design is one of
:data:`TEMPLATE_DESIGNS`: a 2x2 ``ab/ba``, a ``williams`` design with 3 or 4 arms, or the
replicate ``abab/baba`` (two arms, four periods, a ``custom`` design). The study behind the
templates is neutral: an active drug (or two or three doses of it) against placebo, 21-day
periods with a 7-day washout, a diary of average and maximum pain, BPI and HADS at inclusion
and BPI, HADS and PGIC at the end of every period.

The route is one of :data:`TEMPLATE_ROUTES`: ``iv_infusion`` (the default) gives every arm
one bag of an ``[[infusions]]`` entry; the others an ``[[administrations]]`` entry of that
route (capsules twice daily, a weekly patch, a single injection, an inhaler twice daily), its
placebo a matching dummy, so an oral trial needs no infusion (docs/protocol.md).
"""

from __future__ import annotations

from ketapain.errors import ProtocolError

__all__ = ["TEMPLATE_DESIGNS", "TEMPLATE_ROUTES", "protocol_template"]

TEMPLATE_DESIGNS: tuple[str, ...] = ("ab/ba", "williams", "abab/baba")
"""The designs :func:`protocol_template` writes."""

TEMPLATE_ROUTES: tuple[str, ...] = ("iv_infusion", "oral", "transdermal_patch", "injection", "inhaled")
"""The routes :func:`protocol_template` writes; ``iv_infusion`` is the default."""

_PERIOD_DAYS = 21
_WASHOUT_DAYS = 7

_HEAD = """\
# Protocol of a randomised crossover trial, written by `ketapain init` ({design}).
# Every key is described in docs/protocol.md; `ketapain protocol validate protocol.toml`
# validates this file, `ketapain check DIR` the data files beside it.
# Change the values marked CHANGE; every name below (arm codes, diary items, visit names,
# instruments) is the one the data files must use.

[study]
id = "my_trial"                      # CHANGE: lower_snake_case identifier
title = "CHANGE: full title of the trial"
race_collected = false               # CHANGE to true where race may be collected; false: 'NOT REPORTED'

# The recruiting centres (patients.site_id; country: ISO 3166-1 alpha-3). Add one [[sites]] per centre.
[[sites]]
id = "S01"                           # CHANGE: short site code
name = "CHANGE: name of the recruiting centre"
country = "FRA"                      # CHANGE: the centre's country, 3 capital letters

[design]
{design_lines}
period_days = {period_days:<23d}# days from the start of a period to its end
washout_days = {washout_days:<22d}# extra days between two periods
{slot}"""

_SLOTS = {
    "iv_infusion": ("bag", "infusion", """
# The protocol format describes each treatment as what every patient receives at the start
# of a period (one bag or syringe, identical in every arm, so the arms look the same).
[[infusions]]
id = "bag"
final_volume_ml = 50
duration_min = 30
diluent = "NaCl 0.9%"
"""),
    "oral": ("capsules", "administration", """
# What every arm takes, the same way in every arm (the placebo is a matching dummy):
# CHANGE the form (capsule or tablet) and the regimen. Day 0 is the first day of tablets or
# capsules; the diary's day 1 is the day after it.
[[administrations]]
id = "capsules"
route = "oral"
form = "capsule"                     # or "tablet"
units_per_dose = 1
doses_per_day = 2
treatment_days = {period_days:<20d}# at most period_days
spare_units = 4                      # dispensed per period: 1 x 2 x {period_days} + 4
"""),
    "transdermal_patch": ("patch", "administration", """
# What every arm wears, the same way in every arm (the placebo is a matching dummy patch):
# CHANGE the wear time and the number of days.
[[administrations]]
id = "patch"
route = "transdermal_patch"
wear_hours = 168                     # one patch a week
treatment_days = {period_days:<20d}# at most period_days
spare_units = 1
"""),
    "injection": ("syringe", "administration", """
# What every arm receives on the first day of a period (day 0): one syringe, the same volume
# in every arm (the placebo is the diluent alone). CHANGE the site and the volume.
[[administrations]]
id = "syringe"
route = "injection"
site = "subcutaneous"                # or "intramuscular"
volume_ml = 2
diluent = "NaCl 0.9%"
"""),
    "inhaled": ("inhaler", "administration", """
# What every arm inhales, the same way in every arm (the placebo is a matching dummy inhaler):
# CHANGE the device and the regimen.
[[administrations]]
id = "inhaler"
route = "inhaled"
device = "metered_dose_inhaler"      # or "dry_powder_inhaler"
actuations_per_dose = 2
doses_per_day = 2
treatment_days = {period_days:<20d}# at most period_days
actuations_per_inhaler = 200
"""),
}
"""route -> (slot id, component key, TOML section) of each template route."""

_DOSES = {
    "iv_infusion": ("{ mg = 100 }", "{ mg = ... } or { mg_per_kg = ..., max_mg = ... }",
                    "the bag's diluent alone, labelled as the drug it matches"),
    "oral": ("{ mg_per_unit = 75 }", "{ mg_per_unit = ... }: the strength of one capsule or tablet",
             "a matching dummy: same capsule, same regimen, no drug"),
    "transdermal_patch": ("{ mcg_per_h = 25 }", "{ mcg_per_h = ... }: the patch's delivery rate",
                          "a matching dummy patch"),
    "injection": ("{ mg = 100 }", "{ mg = ... } or { mg_per_kg = ..., max_mg = ... }",
                  "the diluent alone, same volume"),
    "inhaled": ("{ mcg_per_actuation = 100 }", "{ mcg_per_actuation = ... }: the dose of one puff",
                "a matching dummy inhaler"),
}
"""route -> (active dose, what to write instead, what the placebo is)."""

_ARM = """
[[arms]]
code = "{code}"                           # the treatment code used in allocation.csv
name = "{name}"
{comment}components = [{{ {key} = "{slot}", drug = "study_drug", dose = {dose} }}]
"""

_TAIL = """
[weights]
min_kg = 40
max_kg = 150

[randomisation]
block_size = {block:<24d}# a multiple of the {n_seq} sequences

[[eligibility.criteria]]
id = "inc_age"
kind = "inclusion"
text = "Aged 18 or over"
field = "age"
op = ">="
value = 18

# Visits: questionnaires.csv uses these visit names and, at each visit, these instruments;
# their item keys are listed by `ketapain instruments NAME`. The baseline is the last visit
# on or before day 0; a visit on the last day of period k (day {first_end} for period 1) ends it.
[[visits]]
name = "inclusion"
day = -14
questionnaires = ["bpi", "hads"]
{visits}
# The daily diary: diary.csv has one column per item, values from scale_min to scale_max.
[diary]
items = ["avg_pain", "max_pain"]
scale_min = 0
scale_max = 10
days_per_period = {period_days}

# Each period's AUC starts on day 0 at allocation.csv's pre_infusion_pain (the pain before the
# period's first dose); without that value, set time_axis = "first_diary_day" (from diary day 1).
[auc]
time_axis = "infusion"               # day 0 = the first day of the period (named so for any route)
windows = [7, 14, {period_days}]

[[endpoints]]
name = "auc_avg_pain_d{period_days}"
kind = "primary"
value = "avg_pain"
window_day = {period_days}
impute = "locf"

[[endpoints]]
name = "auc_max_pain_d{period_days}"
kind = "secondary"
value = "max_pain"
window_day = {period_days}

[analysis]
alpha = 0.05
model = "standard"                   # treatment + period + sequence
carryover = "none"
df_method = "kenward-roger"
multiplicity = "{multiplicity}"
conf_level = 0.95
"""

_VISIT = """
[[visits]]
name = "end_period_{k}"
day = {day}
questionnaires = ["bpi", "hads", "pgic"]
"""


def _arms(design: str, arms: int | None) -> tuple[tuple[str, str, bool], ...]:
    """(code, name, placebo) of each arm; the placebo last."""
    if design in ("ab/ba", "abab/baba"):
        if arms not in (None, 2):
            raise ProtocolError(template=f"design {design!r} has 2 arms; {{@arms=}} is not allowed",
                                params={"arms": arms}, value=arms, allowed=(2,))
        return (("A", "active drug", False), ("B", "placebo", True))
    if arms is None:
        raise ProtocolError(template="a williams template needs {@arms} (3 or 4)", value=arms, allowed=(3, 4))
    if arms not in (3, 4):
        raise ProtocolError(template="a williams template has 3 or 4 arms; {@arms=} is not allowed",
                            params={"arms": arms}, value=arms, allowed=(3, 4))
    actives = [(c, f"active drug, dose {i + 1}", False) for i, c in enumerate("ABC"[: arms - 1])]
    return (*actives, ("ABCD"[arms - 1], "placebo", True))


def protocol_template(design: str, *, arms: int | None = None, route: str = "iv_infusion") -> str:
    """The TOML text of a commented, valid protocol with the given design.

    Parameters
    ----------
    design : {"ab/ba", "williams", "abab/baba"}
        ``ab/ba``: two arms, two periods; ``williams``: a Williams design (``arms`` 3 or 4,
        as many periods); ``abab/baba``: the replicate two-arm design in four periods.
    arms : int or None
        Number of arms: 3 or 4 for ``williams`` (required); 2 or None for the others.
    route : {"iv_infusion", "oral", "transdermal_patch", "injection", "inhaled"}, default "iv_infusion"
        How every arm is given: one IV bag (``[[infusions]]``) or an ``[[administrations]]``
        entry of that route, the placebo a matching dummy.

    Returns
    -------
    str
        The protocol file's text; it loads with :meth:`~ketapain.protocol.Protocol.from_toml_text`.

    Raises
    ------
    ProtocolError
        An unknown design or route, or a number of arms the design does not have.

    Examples
    --------
    >>> from ketapain.protocol import Protocol
    >>> p = Protocol.from_toml_text(protocol_template("williams", arms=3))
    >>> p.arm_codes, p.design.periods, p.n_sequences_expected, p.diary.items
    (('A', 'B', 'C'), 3, 6, ('avg_pain', 'max_pain'))
    >>> Protocol.from_toml_text(protocol_template("ab/ba", route="oral")).routes
    ('oral',)
    """
    if design not in TEMPLATE_DESIGNS:
        raise ProtocolError(template="{@design=}: unknown design; allowed: {allowed}",
                            params={"design": design, "allowed": ", ".join(TEMPLATE_DESIGNS)},
                            value=design, allowed=TEMPLATE_DESIGNS)
    if route not in TEMPLATE_ROUTES:
        raise ProtocolError(template="{@route=}: unknown route; allowed: {allowed}",
                            params={"route": route, "allowed": ", ".join(TEMPLATE_ROUTES)},
                            value=route, allowed=TEMPLATE_ROUTES)
    chosen = _arms(design, arms)
    codes = [c for c, _, _ in chosen]
    if design == "abab/baba":
        periods, n_seq = 4, 2
        design_lines = ('kind = "custom"                      # the replicate design: each arm twice\n'
                        'sequences = [["A", "B", "A", "B"], ["B", "A", "B", "A"]]\n'
                        "periods = 4")
    else:
        periods = len(codes)
        n_seq = 2 * periods if periods % 2 else periods
        design_lines = (f'kind = "williams"                    # {n_seq} sequences balanced for first-order carry-over\n'
                        f"periods = {periods}                          # one per arm")
    step = _PERIOD_DAYS + _WASHOUT_DAYS
    visits = "".join(_VISIT.format(k=k, day=(k - 1) * step + _PERIOD_DAYS) for k in range(1, periods + 1))
    slot_id, key, slot = _SLOTS[route]
    active, shapes, dummy = _DOSES[route]
    words = design if arms is None else f"{design}, {arms} arms"
    text = _HEAD.format(design=words if route == "iv_infusion" else f"{words}, {route.replace('_', ' ')}",
                        design_lines=design_lines, period_days=_PERIOD_DAYS, washout_days=_WASHOUT_DAYS,
                        slot=slot.format(period_days=_PERIOD_DAYS))
    for code, name, placebo in chosen:
        dose = "{ placebo = true }" if placebo else active
        comment = (f"# the placebo is {dummy}\n" if placebo
                   else f"# CHANGE: the drug and its dose ({shapes})\n")
        text += _ARM.format(code=code, name=name, dose=dose, comment=comment, key=key, slot=slot_id)
    text += _TAIL.format(block=2 * n_seq, n_seq=n_seq, first_end=_PERIOD_DAYS, visits=visits,
                         period_days=_PERIOD_DAYS, multiplicity="none" if len(codes) == 2 else "sidak")
    return text
