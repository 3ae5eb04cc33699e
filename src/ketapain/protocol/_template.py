"""Protocol templates: a commented TOML protocol for a new study (``ketapain init``).

A template is a complete, valid protocol (it loads with :func:`ketapain.protocol.load_protocol`)
whose every section carries a comment saying what to change. The design is one of
:data:`TEMPLATE_DESIGNS`: a 2x2 ``ab/ba``, a ``williams`` design with 3 or 4 arms, or the
replicate ``abab/baba`` (two arms, four periods, a ``custom`` design). The study behind the
templates is neutral: an active drug (or two or three doses of it) against placebo, 21-day
periods with a 7-day washout, a diary of average and maximum pain, BPI and HADS at inclusion
and BPI, HADS and PGIC at the end of every period.
"""

from __future__ import annotations

from ketapain.errors import ProtocolError

__all__ = ["TEMPLATE_DESIGNS", "protocol_template"]

TEMPLATE_DESIGNS: tuple[str, ...] = ("ab/ba", "williams", "abab/baba")
"""The designs :func:`protocol_template` writes."""

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

[design]
{design_lines}
period_days = {period_days:<23d}# days from the start of a period to its end
washout_days = {washout_days:<22d}# extra days between two periods

# The protocol format describes each treatment as what every patient receives at the start
# of a period (one bag or syringe, identical in every arm, so the arms look the same).
[[infusions]]
id = "bag"
final_volume_ml = 50
duration_min = 30
diluent = "NaCl 0.9%"
"""

_ARM = """
[[arms]]
code = "{code}"                           # the treatment code used in allocation.csv
name = "{name}"
{comment}components = [{{ infusion = "bag", drug = "study_drug", dose = {dose} }}]
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

[auc]
time_axis = "infusion"               # day 0 = the first day of the period
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


def protocol_template(design: str, *, arms: int | None = None) -> str:
    """The TOML text of a commented, valid protocol with the given design.

    Parameters
    ----------
    design : {"ab/ba", "williams", "abab/baba"}
        ``ab/ba``: two arms, two periods; ``williams``: a Williams design (``arms`` 3 or 4,
        as many periods); ``abab/baba``: the replicate two-arm design in four periods.
    arms : int or None
        Number of arms: 3 or 4 for ``williams`` (required); 2 or None for the others.

    Returns
    -------
    str
        The protocol file's text; it loads with :meth:`~ketapain.protocol.Protocol.from_toml_text`.

    Raises
    ------
    ProtocolError
        An unknown design or a number of arms the design does not have.

    Examples
    --------
    >>> from ketapain.protocol import Protocol
    >>> p = Protocol.from_toml_text(protocol_template("williams", arms=3))
    >>> p.arm_codes, p.design.periods, p.n_sequences_expected, p.diary.items
    (('A', 'B', 'C'), 3, 6, ('avg_pain', 'max_pain'))
    """
    if design not in TEMPLATE_DESIGNS:
        raise ProtocolError(template="{@design=}: unknown design; allowed: {allowed}",
                            params={"design": design, "allowed": ", ".join(TEMPLATE_DESIGNS)},
                            value=design, allowed=TEMPLATE_DESIGNS)
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
    text = _HEAD.format(design=design if arms is None else f"{design}, {arms} arms", design_lines=design_lines,
                        period_days=_PERIOD_DAYS, washout_days=_WASHOUT_DAYS)
    for code, name, placebo in chosen:
        dose = "{ placebo = true }" if placebo else "{ mg = 100 }"
        comment = ("# a placebo: the bag's diluent alone, labelled as the drug it matches\n" if placebo
                   else "# CHANGE: the drug and its dose ({ mg = ... } or { mg_per_kg = ..., max_mg = ... })\n")
        text += _ARM.format(code=code, name=name, dose=dose, comment=comment)
    text += _TAIL.format(block=2 * n_seq, n_seq=n_seq, first_end=_PERIOD_DAYS, visits=visits,
                         period_days=_PERIOD_DAYS, multiplicity="none" if len(codes) == 2 else "sidak")
    return text
