"""The README is a contract (issue 13): every command it shows runs, in order, in an empty folder.

- The set-up block holds exactly the two commands of a fresh machine (the main job, the tests),
  and ``.ci/run`` ends with the second one verbatim.
- Every other command of the README's ``bash`` blocks runs in one scratch folder, in the order
  written, with a time limit, and exits 0; ``ketapain serve`` is started, ``/healthz`` checked,
  its first-start message read, and stopped; the ``python`` blocks run too.
- The README's command table lists every command of the CLI, and the example in every command's
  ``--help`` runs as well (in a second scratch folder, in an order that makes each one's input).

The commands run as a user runs them: in a subprocess, through the ``ketapain`` script of this
environment, with a throwaway HOME and no ``KETAPAIN_*`` variables.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import typer.main

from ketapain.cli import app

from net import free_port, wait_for_http

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MAIN_JOB = "python -m pip install -e . && ketapain demo"
TEST_COMMAND = "python -m pip install -e '.[test]' && python -m pytest"
TIME_LIMIT_S = 600  # per command; the slowest (demo, analyze) take ~10 s on a 2-core machine


@dataclass(frozen=True)
class Block:
    language: str
    text: str
    line: int  # line of the opening fence in README.md


def readme_blocks() -> list[Block]:
    """The fenced code blocks of README.md, in order."""
    blocks, lines = [], README.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if fence:
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            blocks.append(Block(fence.group(1), "\n".join(lines[i + 1:end]), i + 1))
            i = end
        i += 1
    return blocks


def shell_commands(block: Block) -> list[str]:
    """A bash block's commands: one per line, comments and blank lines dropped."""
    out = []
    for raw in block.text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def leaf_commands() -> list[str]:
    """Every command path of the CLI ("fit", "audit verify"...)."""
    def walk(command: object, prefix: tuple[str, ...]) -> Iterator[str]:
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                yield from walk(sub, (*prefix, name))
        else:
            yield " ".join(prefix)

    return list(walk(typer.main.get_command(app), ()))


def user_env(home: Path) -> dict[str, str]:
    """The environment of a user: this environment's scripts first on PATH, a fresh HOME, no
    KETAPAIN_* settings, and a free port for ``ketapain serve``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KETAPAIN_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(home)
    env["XDG_CONFIG_HOME"] = str(home / ".config")
    env["KETAPAIN_PORT"] = str(free_port())
    env["COLUMNS"] = "100"
    return env


def run_command(command: str, cwd: Path, env: dict[str, str]) -> str | None:
    """Run one command as a user would; None when it succeeds, else what went wrong."""
    if command.startswith("ketapain serve"):
        return run_server(command, cwd, env)
    started = time.monotonic()
    try:
        done = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=TIME_LIMIT_S, check=False)
    except subprocess.TimeoutExpired:
        return f"{command}: still running after {TIME_LIMIT_S} s"
    took = time.monotonic() - started
    if done.returncode != 0:
        return f"{command}: exit {done.returncode} after {took:.1f} s\nstdout: {done.stdout[-1500:]}\nstderr: {done.stderr[-3000:]}"
    if "Traceback" in done.stderr:
        return f"{command}: a traceback on stderr:\n{done.stderr[-3000:]}"
    return None


def run_server(command: str, cwd: Path, env: dict[str, str]) -> str | None:
    """Start ``ketapain serve``, wait for /healthz, check the first-start message, stop it (Ctrl-C)."""
    port = env["KETAPAIN_PORT"]
    with subprocess.Popen(shlex.split(command), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as proc:
        try:
            health = wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout_s=180, alive=lambda: proc.poll() is None)
        except (TimeoutError, RuntimeError) as exc:
            proc.kill()
            _out, err = proc.communicate(timeout=30)
            return f"{command}: {exc}\nstderr: {err[-3000:]}"
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            return f"{command}: did not stop within 60 s of Ctrl-C"
    problems = []
    if b'"status":"ok"' not in health:
        problems.append(f"/healthz answered {health!r}")
    if "password:" not in err or f"http://127.0.0.1:{port}/login" not in err:
        problems.append("no first-start message with the admin password and the login address")
    if "Traceback" in err:
        problems.append("a traceback on stderr")
    return f"{command}: {'; '.join(problems)}\nstderr: {err[-3000:]}" if problems else None


def test_setup_is_the_two_commands_and_ci_runs_the_second_verbatim() -> None:
    bash = [b for b in readme_blocks() if b.language == "bash"]
    assert shell_commands(bash[0]) == [MAIN_JOB]
    assert shell_commands(bash[1]) == [TEST_COMMAND]
    ci = [ln for ln in (ROOT / ".ci" / "run").read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert ci[-1] == TEST_COMMAND
    assert "python3 -m venv" in (ROOT / ".ci" / "run").read_text()  # a fresh environment, not the machine's


def test_readme_table_lists_every_command() -> None:
    text = README.read_text(encoding="utf-8")
    table = re.findall(r"^\| `ketapain ([a-z -]+)`(?: / `([a-z]+)`)? \|", text, flags=re.M)
    listed = set()
    for name, other in table:
        listed.add(name)
        if other:  # "protocol show / validate"
            listed.add(name.rsplit(" ", 1)[0] + " " + other)
    assert listed == set(leaf_commands())


def test_every_readme_command_runs_in_order(tmp_path: Path) -> None:
    blocks = readme_blocks()
    bash = [b for b in blocks if b.language == "bash"]
    main_job = shell_commands(bash[0])[0].split(" && ")[1]  # the install step is this environment's
    commands = [main_job] + [c for b in bash[2:] for c in shell_commands(b)]
    assert len(commands) > 30 and not any("[" in c and "]" in c for c in commands), "placeholders in the README"
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    env = user_env(home)
    failures = [f for c in commands if (f := run_command(c, work, env)) is not None]
    for block in (b for b in blocks if b.language == "python"):
        done = subprocess.run([sys.executable, "-c", block.text], cwd=work, env=env, capture_output=True, text=True,
                              timeout=TIME_LIMIT_S, check=False)
        if done.returncode != 0:
            failures.append(f"python block at README.md line {block.line}: exit {done.returncode}\n{done.stderr[-3000:]}")
    assert failures == []
    # what the README says the commands leave behind
    assert (work / "ketapain-demo" / "report" / "index.html").is_file()
    assert (work / "ketapain-capture.sqlite.secret-key").stat().st_mode & 0o077 == 0
    assert (work / "power.png").stat().st_size > 0


HELP_ORDER = ("examples", "simulate", "analyze", "export", "import", "randomize", "verify-list", "unblind", "serve",
              "audit verify", "backup", "restore")
"""Commands whose help examples make the inputs of later ones; the others follow in CLI order."""


def help_example(command: str, env: dict[str, str]) -> str:
    done = subprocess.run(["ketapain", *command.split(), "--help"], env=env, capture_output=True, text=True,
                          timeout=60, check=True)
    lines = done.stdout.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.strip() == "Example:")
    example = lines[at + 1].strip()
    assert example == f"ketapain {command}" or example.startswith(f"ketapain {command} "), (command, example)
    return example


def test_every_help_example_runs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    env = user_env(home)
    names = leaf_commands()
    ordered = [*HELP_ORDER, *(n for n in names if n not in HELP_ORDER)]
    assert set(ordered) == set(names)
    failures = [f for n in ordered if (f := run_command(help_example(n, env), work, env)) is not None]
    assert failures == []
