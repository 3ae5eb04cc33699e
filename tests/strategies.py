"""Hypothesis strategies shared by the tests (one place, per CONTRIBUTING.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import strategies as st

LETTERS = "ABCD"


def _sequences(n_trt: int, kind: str, rng: np.random.Generator) -> list[str]:
    trts = LETTERS[:n_trt]
    if kind == "latin":  # cyclic Latin square: every treatment once per period
        return ["".join(trts[(i + j) % n_trt] for j in range(n_trt)) for i in range(n_trt)]
    if kind == "williams" and n_trt == 3:
        return ["ABC", "ACB", "BAC", "BCA", "CAB", "CBA"]
    # random orders (at least two distinct sequences)
    seqs = {"".join(rng.permutation(list(trts))) for _ in range(4)}
    while len(seqs) < 2:
        seqs.add("".join(rng.permutation(list(trts))))
    return sorted(seqs)


@st.composite
def crossover_datasets(draw: st.DrawFn) -> pd.DataFrame:
    """Random crossover data: 2-4 treatments, Latin/Williams/random sequences, 6-24 subjects,
    random-intercept SD 0-3, residual SD 0.5-2, up to 15% missing outcomes; plus the
    ``carry`` column (previous treatment, 'none' in period 1) for R."""
    seed = draw(st.integers(0, 2**32 - 1))
    n_trt = draw(st.integers(2, 4))
    kind = draw(st.sampled_from(["latin", "williams", "random"]))
    n_subj = draw(st.integers(6, 24))
    sd_b = draw(st.sampled_from([0.0, 0.3, 1.0, 3.0]))
    sd_e = draw(st.sampled_from([0.5, 1.0, 2.0]))
    missing = draw(st.sampled_from([0.0, 0.05, 0.15]))
    rng = np.random.default_rng(seed)
    seqs = _sequences(n_trt, kind, rng)
    effects = dict(zip(LETTERS, rng.normal(0, 1, 4), strict=True))
    rows = []
    for i in range(n_subj):
        seq = seqs[i % len(seqs)]
        b = rng.normal(0, sd_b)
        prev = "none"
        for k, t in enumerate(seq):
            y = 10 + effects[t] + 0.2 * k + b + rng.normal(0, sd_e)
            rows.append((f"S{i:02d}", k + 1, seq, t, y, prev))
            prev = t
    frame = pd.DataFrame(rows, columns=["subject", "period", "sequence", "treatment", "y", "carry"])
    drop = rng.random(len(frame)) < missing
    frame.loc[drop, "y"] = np.nan
    return frame


def fixed_effects_identified(frame: pd.DataFrame, *, with_period: bool = True) -> bool:
    """Independent check (plain pandas/numpy) that a crossover model is estimable on the rows
    with an observed ``y``: the treatment (+ period) + sequence design has full column rank and
    leaves the subject means some between-subject degrees of freedom."""
    obs = frame.dropna(subset=["y"])
    factors = ["treatment", "period", "sequence"] if with_period else ["treatment", "sequence"]
    X = pd.get_dummies(obs[factors].astype(str), drop_first=True, dtype=float)
    X.insert(0, "intercept", 1.0)
    x = X.to_numpy()
    means = pd.DataFrame(x).groupby(obs["subject"].to_numpy()).mean().to_numpy()
    return bool(np.linalg.matrix_rank(x) == x.shape[1] and np.linalg.matrix_rank(means) < means.shape[0])


# --- malformed inputs for the fuzz tests (tests/test_fuzz_inputs.py, issue 14) --------------

WEIRD_NUMBERS = ("inf", "-inf", "nan", "0", "-0.0", "-1", "0.5", "1e308", "-1e308", "1e-320", "9223372036854775807",
                 "-9223372036854775808", "1" + "0" * 30, "1" + "0" * 400, "100000000", "365", "366", "1000", "1001")
"""Numbers at and beyond every bound, written as TOML and CSV accept them."""
WEIRD_TOML_VALUES = (*WEIRD_NUMBERS, "true", '"x"', '""', '"35"', "[]", "[1, 2]", "[[1]]", "{}", "{ a = 1 }",
                     '{ mg = 1e400 }', '{ placebo = false }', "1979-05-27")
WEIRD_CELLS = (*WEIRD_NUMBERS, "", " ", "abc", "NA", "1,5", "1;2", '"', "P01", "P99", "K", "x" * 300, "\t", "é")


def _shipped_text(name: str) -> str:
    from importlib import resources

    return (resources.files("ketapain.protocol") / "files" / f"{name}.toml").read_text(encoding="utf-8")


def _example_text(name: str) -> str:
    from importlib import resources

    return (resources.files("ketapain.examples") / name).read_text(encoding="utf-8")


@st.composite
def malformed_protocol_texts(draw: st.DrawFn) -> str:
    """The shipped KETAPAIN or AB/BA protocol with 1-3 text mutations: a value replaced by an
    odd one (infinite, huge, negative, of the wrong type), a line deleted or duplicated, the
    text truncated, or random characters inserted."""
    lines = _shipped_text(draw(st.sampled_from(["ketapain", "ab_ba_example"]))).splitlines()
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["value", "value", "value", "delete", "duplicate", "truncate", "insert"]))
        assignments = [i for i, line in enumerate(lines) if "=" in line and not line.lstrip().startswith("#")]
        if kind == "value" and assignments:
            i = draw(st.sampled_from(assignments))
            key = lines[i].split("=", 1)[0]
            value = draw(st.sampled_from(WEIRD_TOML_VALUES) | st.integers().map(str)
                         | st.floats(allow_nan=True, allow_infinity=True).map(repr))
            lines[i] = f"{key}= {value}"
        elif kind == "delete" and lines:
            del lines[draw(st.integers(0, len(lines) - 1))]
        elif kind == "duplicate" and lines:
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(i, lines[i])
        elif kind == "truncate":
            text = "\n".join(lines)
            lines = text[: draw(st.integers(0, len(text)))].splitlines()
        else:
            i = draw(st.integers(0, len(lines)))
            lines.insert(i, draw(st.text(max_size=20)))
    return "\n".join(lines) + "\n"


_json_scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=10**18, max_value=10**500)
                 | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=6)
                 | st.sampled_from(["23:30", "7:05", "25:00", " ", "3", "-1", "1e3"]))
json_values = st.recursive(_json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=8)
"""Any JSON value (no NaN: JSON has none), with integers far beyond int64."""
answer_dicts = st.dictionaries(st.sampled_from([str(i) for i in range(25)] + ["1a", "", "q1"]),
                               _json_scalars | st.integers(-3, 12), max_size=24)
"""Item -> answer objects: the right keys mostly, values of every JSON kind."""


@st.composite
def answer_file_bytes(draw: st.DrawFn) -> bytes:
    """The bytes of a ``ketapain score`` answer file: an object or a list of objects (or any
    JSON value), in UTF-8/UTF-16/UTF-32 with or without a byte-order mark, possibly deeply
    nested, truncated, with NaN, or with random bytes inserted."""
    import json

    payload = draw(st.one_of(answer_dicts, st.lists(answer_dicts, max_size=3), json_values))
    text = json.dumps(payload)
    kind = draw(st.sampled_from(["plain", "plain", "deep", "nan", "truncate", "bytes"]))
    if kind == "deep":
        depth = draw(st.sampled_from([10, 900, 5000, 100_000]))
        text = '{"1": ' + "[" * depth + "]" * depth + "}"
    elif kind == "nan":
        text = '{"1": NaN, "2": Infinity}'
    elif kind == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    data = text.encode(draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32", "latin-1"])),
                       errors="replace")
    if kind == "bytes":
        i = draw(st.integers(0, len(data)))
        data = data[:i] + draw(st.binary(max_size=8)) + data[i:]
    return data


@st.composite
def malformed_csv_texts(draw: st.DrawFn, example: str, *, keep_rows: int | None = None) -> str:
    """An example CSV (``pain_auc.csv``, ``diary.csv``...; its first ``keep_rows`` data rows)
    with 1-3 mutations: a cell replaced by an odd value, a row deleted or duplicated, a column
    dropped, a header renamed, blank lines, a ';' delimiter, or the text truncated."""
    lines = _example_text(example).splitlines()
    if keep_rows is not None:
        lines = lines[: keep_rows + 1]
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["cell", "cell", "cell", "delete", "duplicate", "column", "header", "blank",
                                     "semicolon", "truncate"]))
        if kind == "cell" and len(lines) > 1:
            i = draw(st.integers(0, len(lines) - 1))
            cells = lines[i].split(",")
            j = draw(st.integers(0, len(cells) - 1))
            cells[j] = draw(st.sampled_from(WEIRD_CELLS) | st.floats().map(repr) | st.integers().map(str))
            lines[i] = ",".join(cells)
        elif kind == "delete" and lines:
            del lines[draw(st.integers(0, len(lines) - 1))]
        elif kind == "duplicate" and lines:
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(i, lines[i])
        elif kind == "column" and lines:
            j = draw(st.integers(0, lines[0].count(",")))
            lines = [",".join(c for k, c in enumerate(line.split(",")) if k != j) for line in lines]
        elif kind == "header" and lines:
            cells = lines[0].split(",")
            cells[draw(st.integers(0, len(cells) - 1))] = draw(st.sampled_from(["", "y", "subject", "Period", "x x"]))
            lines[0] = ",".join(cells)
        elif kind == "blank":
            lines.insert(draw(st.integers(0, len(lines))), "")
        elif kind == "semicolon":
            lines = [line.replace(",", ";") for line in lines]
        else:
            text = "\n".join(lines)
            lines = text[: draw(st.integers(0, len(text)))].splitlines()
    return "\n".join(lines) + "\n"
