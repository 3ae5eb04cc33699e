"""What every ``ketapain`` command promises a newcomer (issue 13), checked for every command.

- ``--help`` is plain text: no emoji codes turned into pictures (rich read ``a:b:step`` as the
  ``:b:`` emoji), no markup eaten (``[arms.CODE]``), no ``<bool>``/``<path>`` type
  placeholders, a metavar on every option that takes a value, and an example.
- Errors speak the user's language: a bad value reaches the library, whose error names its
  parameter; the command prints it with the flag (``--df-method``, not ``df_method``;
  ``--overwrite``, not ``overwrite=True``). One bad input per command; the table below must
  cover every command.
- Renamed options keep their old spelling, hidden, with a warning.
- Commands that draw random numbers take ``--seed``, draw a fresh one when it is missing, print
  it, and the printed seed repeats the run.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.main
from typer.core import TyperArgument, TyperOption
from typer.testing import CliRunner

from ketapain.cli import app
from ketapain.examples import write_examples
from ketapain.simulate import simulate_trial

RUNNER = CliRunner()


def commands() -> dict[str, object]:
    """Every leaf command of the CLI by its path ("fit", "audit verify")."""
    out: dict[str, object] = {}

    def walk(command: object, prefix: tuple[str, ...]) -> None:
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, (*prefix, name))
        else:
            out[" ".join(prefix)] = command

    walk(typer.main.get_command(app), ())
    return out


COMMANDS = commands()


def run(*args: object, env: dict[str, str] | None = None):
    return RUNNER.invoke(app, [str(a) for a in args], env=env)


# --- help -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_is_plain_with_metavars_and_an_example(name: str) -> None:
    res = run(*name.split(), "--help")
    assert res.exit_code == 0, res.output
    text = res.stdout
    pictures = [c for c in text if unicodedata.category(c) == "So"]
    assert pictures == [], f"emoji or symbols in the help of {name}: {pictures}"
    assert re.findall(r"<(?:bool|str|int|float|path|text|integer|file|choice)[^>]*>", text) == []
    assert "[x>=" not in text and "[x<=" not in text  # click's range placeholders
    lines = text.splitlines()
    at = lines.index("  Example:")
    assert lines[at + 1].strip() == f"ketapain {name}" or lines[at + 1].strip().startswith(f"ketapain {name} ")
    for param in COMMANDS[name].params:  # type: ignore[attr-defined]
        if isinstance(param, TyperOption) and not param.hidden and not param.is_flag and param.name != "help":
            assert param.metavar, f"{name} {param.opts[0]} has no metavar"
            assert param.metavar in text
        if isinstance(param, TyperArgument):
            assert param.metavar, f"{name} argument {param.name} has no metavar"


def test_power_help_keeps_colons_and_brackets() -> None:
    """rich turned ``a:b:step`` into ``a🅱step`` and dropped ``[arms.<code>]`` as markup."""
    text = run("power", "--help").stdout
    assert "A:B:STEP" in text and "12:40:2" in text and "[arms.CODE]" in text


def test_top_level_help_lists_every_command() -> None:
    text = run("--help").stdout
    for name in {n.split()[0] for n in COMMANDS}:
        assert re.search(rf"^  {re.escape(name)} ", text, flags=re.M), name


# --- errors in the user's words -----------------------------------------------------------------


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Inputs for the bad-input table: example files, a trial, its ODM export, a list."""
    root = tmp_path_factory.mktemp("contract")
    write_examples(root / "ex")
    simulate_trial("ketapain", n_patients=6, seed=4).write(root / "trial")
    assert run("export", root / "trial", "--format", "odm", "--out", root / "odm").exit_code == 0
    assert run("randomize", "--patients", "6", "--seed", "1", "--out", root / "list").exit_code == 0
    (root / "bad.toml").write_text("[study]\nid = 'x'\n")
    return {"root": root, "ex": root / "ex", "trial": root / "trial", "odm": root / "odm" / "ketapain.odm.xml",
            "list": root / "list", "bad": root / "bad.toml"}


# (command, arguments, expected error line, exit code); {name} is a path of the `place` fixture.
BAD_INPUT = [
    ("demo", ["--patients", "0", "--out", "{root}/demo", "--no-pdf", "--quiet"],
     "error: --patients 0 must be a positive integer", 1),
    ("examples", ["--out", "{ex}"], "; pass --overwrite to replace them", 1),
    ("simulate", ["--out", "{root}/sim", "--patients", "0"], "error: --patients 0 must be a positive integer", 1),
    ("calibrate", ["--trials", "1", "--seed", "1"], "error: --trials 1 must be an integer in [2, 100000]", 1),
    ("analyze", ["{trial}", "--out", "{root}/report", "--seed", "-1"], "error: --seed -1 must be an integer >= 0", 1),
    ("init", ["{ex}"], "is not empty; pass --overwrite to write the templates into it", 1),
    ("check", ["{trial}", "--lenient", "nope"], "error: --lenient 'nope': nope cannot be made lenient; allowed: ", 1),
    ("export", ["{trial}", "--format", "stata", "--out", "{list}"],
     " already exists and is not empty; pass --overwrite to replace it", 1),
    ("import", ["{odm}", "--format", "odm", "--out", "{list}"],
     " already exists and is not empty; pass --overwrite to replace it", 1),
    ("power", ["--patients", "8", "--sims", "0"], "error: --sims 0 must be an integer in [1, 100000]", 1),
    ("serve", ["--db", "sqlite:///{root}/serve.sqlite"],
     "error: secret_key: a default or short secret key is refused; set KETAPAIN_SECRET_KEY", 1),
    ("audit verify", ["--db", "sqlite:///{root}/none.sqlite"], "none.sqlite: no capture database there", 1),
    ("backup", ["--db", "sqlite:///{root}/none.sqlite", "--out", "{root}/b.zip"], "none.sqlite: no capture database there", 1),
    ("restore", ["{bad}", "--db", "sqlite:///{root}/r.sqlite"], "bad.toml: damaged or not a backup archive", 1),
    ("fit", ["{ex}/pain_auc.csv", "--df-method", "bayes"],
     "error: pain_auc.csv: --df-method 'bayes' is not one of kenward-roger, satterthwaite, containment, normal", 1),
    ("auc", ["{ex}/diary.csv", "--impute", "mean"], "error: --impute 'mean' is not one of none, locf, linear", 1),
    ("score", ["hads", "{ex}/hads_answers.json", "-o", "coding=x"], "error: hads: option coding='x' is not one of", 1),
    ("instruments", ["hads", "--wording", "{ex}/hads_answers.json"], "error: --wording goes with --fhir", 1),
    ("samplesize", ["--diff", "57", "--sd", "38"],
     "error: --sd needs --rho, the intra-patient correlation (or give --sd-within or --sd-diff)", 1),
    ("design", ["williams", "A"], "error: TREATMENTS: a crossover design needs at least 2 treatments, got 1", 1),
    ("randomize", ["--patients", "0", "--out", "{root}/l0"],
     "error: --patients 0: must be an integer >= 1 (or a mapping stratum -> n)", 1),
    ("unblind", ["--list", "{list}", "--reason", "x", "--user", "u"], "give either --kit CODE or --patient ID --period N", 2),
    ("verify-list", ["{list}", "--commitment", "xyz"], "error: --commitment 'xyz': a SHA-256 hex digest has 64 hex digits", 1),
    ("eligibility", ["{ex}/screening_answers.json", "--protocol", "nope"], "error: nope", 1),
    ("gate", ["--pain-today", "12", "--pain-inclusion", "7"], "error: --pain-today 12 is outside 0..10 (the diary scale)", 1),
    ("dose", ["--weight", "250", "--arm", "KM"], "error: --weight 250 is outside the protocol's weights range 30..200 kg", 1),
    ("consort", ["{trial}/screening.csv", "--allocation", "{trial}/allocation.csv", "--periods", "2"],
     "error: allocation.csv: period 3 is above --periods 2", 1),
    ("protocol show", ["nope"], "error: nope", 1),
    ("protocol validate", ["{bad}"], "error: bad.toml: ", 1),
]
NO_BAD_INPUT = {"version": "takes no input"}


def test_the_table_covers_every_command() -> None:
    assert {c for c, *_ in BAD_INPUT} | set(NO_BAD_INPUT) == set(COMMANDS)


def _python_names(command: str) -> set[str]:
    """Parameter names of the command that differ from their flag (``n_patients`` of ``--patients``)."""
    out = set()
    for param in COMMANDS[command].params:  # type: ignore[attr-defined]
        flagged = isinstance(param, TyperOption) and param.name and "_" in param.name
        if flagged and param.name.replace("_", "-") not in {o.lstrip("-") for o in param.opts}:
            out.add(param.name)
    return out | {"df_method", "n_patients", "weight_kg", "stock_overrides", "pain_at_inclusion", "overwrite=True"}


@pytest.mark.parametrize(("command", "args", "expected", "code"), BAD_INPUT, ids=[c for c, *_ in BAD_INPUT])
def test_errors_name_flags_not_parameters(place: dict[str, Path], command: str, args: list[str], expected: str,
                                          code: int) -> None:
    argv = [*command.split(), *(a.format(**place) for a in args)]
    env = {"KETAPAIN_SECRET_KEY": "short"} if command == "serve" else None
    res = run(*argv, env=env)
    assert res.exit_code == code, res.output
    assert expected in res.stderr
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert "Traceback" not in res.output
    leaked = {name for name in _python_names(command) if re.search(rf"(?<![-\w]){re.escape(name)}(?![-\w])", res.stderr)}
    assert leaked == set(), f"{command}: Python names in the error: {leaked}\n{res.stderr}"
    if code == 1:
        assert all(line.startswith(("error: ", "warning: ", "note: ", "seed ")) for line in res.stderr.splitlines())


def test_audit_verify_refuses_a_missing_database_without_creating_one(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KETAPAIN_DATABASE_URL", raising=False)
    res = run("audit", "verify")
    assert res.exit_code == 1
    assert res.stderr == (f"error: {tmp_path / 'ketapain-capture.sqlite'}: no capture database there (`ketapain serve` "
                          "creates one on its first start; give another with --db URL or KETAPAIN_DATABASE_URL)\n")
    assert list(tmp_path.iterdir()) == []


def test_audit_verify_refuses_a_file_that_is_not_a_capture_database(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x)")
    res = run("audit", "verify", "--db", f"sqlite:///{path}")
    assert res.exit_code == 1
    assert res.stderr == f"error: sqlite:///{path}: not a ketapain capture database (it has no audit_log table)\n"
    (tmp_path / "junk.sqlite").write_text("not a database")
    res = run("audit", "verify", "--db", f"sqlite:///{tmp_path / 'junk.sqlite'}")
    assert res.exit_code == 1 and res.stderr.startswith("error: ") and "cannot open the database" in res.stderr
    assert len(res.stderr.splitlines()) == 1


# --- old spellings ------------------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "old", "new"), [
    (["fit", "{ex}/pain_auc.csv", "--df", "normal", "--json"], "--df", "--df-method"),
    (["samplesize", "--diff", "57", "--sd-within", "20", "--method", "normal", "--json"], "--method", "--calculation"),
    (["samplesize", "--diff", "57", "--sd-within", "20", "--df", "paired", "--json"], "--df", "--df-formula"),
    (["power", "--protocol", "ab_ba_example", "--n", "6", "--sims", "20", "--seed", "1", "--json"], "--n", "--patients"),
])
def test_old_spellings_still_work_with_a_warning(place: dict[str, Path], argv: list[str], old: str, new: str) -> None:
    argv = [a.format(**place) for a in argv]
    res = run(*argv)
    assert res.exit_code == 0, res.output
    assert f"warning: {old} is now spelt {new}; {old} will be removed in a later release" in res.stderr
    same = run(*[new if a == old else a for a in argv])
    assert json.loads(same.stdout) == json.loads(res.stdout)
    (hidden,) = [p for p in COMMANDS[argv[0]].params if old in getattr(p, "opts", ())]  # type: ignore[attr-defined]
    assert hidden.hidden and not re.search(rf"(?<![-\w]){re.escape(old)}(?![-\w])", run(argv[0], "--help").stdout)


def test_unblind_old_log_spelling(place: dict[str, Path], tmp_path: Path) -> None:
    res = run("unblind", "--list", place["list"], "--patient", "P001", "--period", "1", "--reason", "test",
              "--user", "u", "--log", tmp_path / "log.jsonl")
    assert res.exit_code == 0, res.output
    assert "warning: --log is now spelt --log-file" in res.stderr and (tmp_path / "log.jsonl").is_file()


def test_old_and_new_spelling_together_is_a_usage_error(place: dict[str, Path]) -> None:
    res = run("fit", place["ex"] / "pain_auc.csv", "--df", "normal", "--df-method", "normal")
    assert res.exit_code == 2 and "--df is the old spelling of --df-method; give --df-method only" in res.stderr


# --- seeds --------------------------------------------------------------------------------------

SEEDED = {"demo", "simulate", "calibrate", "analyze", "power", "randomize", "serve"}


def test_every_command_that_draws_random_numbers_takes_a_seed() -> None:
    with_seed = {n for n, c in COMMANDS.items() if any(p.name == "seed" for p in c.params)}  # type: ignore[attr-defined]
    assert with_seed == SEEDED


def _printed_seed(text: str) -> int:
    found = re.findall(r"^seed (\d+)", text, flags=re.M)
    assert len(found) == 1, text
    return int(found[0])


def test_simulate_draws_prints_and_repeats_its_seed(tmp_path: Path) -> None:
    first = run("simulate", "--protocol", "ab_ba_example", "--patients", "4", "--out", tmp_path / "a")
    assert first.exit_code == 0, first.output
    seed = _printed_seed(first.stdout)
    again = run("simulate", "--protocol", "ab_ba_example", "--patients", "4", "--seed", seed, "--out", tmp_path / "b")
    assert again.exit_code == 0, again.output
    for table in ("allocation.csv", "diary.csv", "patients.csv"):
        assert (tmp_path / "a" / table).read_bytes() == (tmp_path / "b" / table).read_bytes()
    other = run("simulate", "--protocol", "ab_ba_example", "--patients", "4", "--out", tmp_path / "c")
    assert _printed_seed(other.stdout) != seed


def test_power_and_calibrate_print_a_fresh_seed_that_repeats_the_run() -> None:
    base = ["power", "--protocol", "ab_ba_example", "--patients", "6", "--sims", "30", "--json"]
    first = run(*base)
    assert first.exit_code == 0, first.output
    out = json.loads(first.stdout)
    again = json.loads(run(*base, "--seed", out["seed"]).stdout)
    assert again == out
    cal = run("calibrate", "--trials", "4", "--json")
    seed = _printed_seed(cal.stderr)
    assert json.loads(run("calibrate", "--trials", "4", "--json", "--seed", seed).stdout) == json.loads(cal.stdout)


def test_randomize_prints_the_seed_of_a_test_list_only(tmp_path: Path) -> None:
    test_list = run("randomize", "--patients", "6", "--out", tmp_path / "t")
    seed = _printed_seed(test_list.stdout)
    again = run("randomize", "--patients", "6", "--seed", seed, "--out", tmp_path / "t2")
    assert again.exit_code == 0, again.output
    assert (tmp_path / "t" / "pharmacy.csv").read_bytes() == (tmp_path / "t2" / "pharmacy.csv").read_bytes()
    production = run("randomize", "--patients", "6", "--kind", "production", "--out", tmp_path / "p")
    assert production.exit_code == 0, production.output
    assert re.search(r"^seed \d", production.stdout, flags=re.M) is None
    assert "seed: recorded in list_meta.json (UNBLINDED: it reproduces the list)" in production.stdout
    meta = json.loads((tmp_path / "p" / "list_meta.json").read_text())
    assert str(meta["seed"]) not in production.stdout


def test_demo_and_analyze_print_the_seed_they_used(tmp_path: Path) -> None:
    demo = run("demo", "--out", tmp_path / "d", "--patients", "6", "--no-pdf", "--quiet")
    assert demo.exit_code == 0, demo.output
    seed = int(re.search(r"seed (\d+)\)", demo.stdout).group(1))
    results = json.loads((tmp_path / "d" / "report" / "results.json").read_text())
    assert _json_seed(results) == seed
    analyzed = run("analyze", tmp_path / "d" / "data", "--out", tmp_path / "r", "--no-pdf", "--quiet")
    assert analyzed.exit_code == 0, analyzed.output
    used = _printed_seed(analyzed.stdout)
    assert _json_seed(json.loads((tmp_path / "r" / "results.json").read_text())) == used


def _json_seed(results: dict) -> int:
    """The seed recorded in a report's results.json (its provenance)."""
    found = set(_find(results, "seed"))
    assert len(found) == 1, found
    return int(found.pop())


def _find(node: object, key: str) -> Iterator[object]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key and isinstance(v, int | str):
                yield v
            yield from _find(v, key)
    elif isinstance(node, list):
        for v in node:
            yield from _find(v, key)
