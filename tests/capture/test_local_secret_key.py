"""``ketapain serve`` out of the box (issue 13): a secret key made on the first start and kept beside
the SQLite database (owner-only), reused after; an explicit weak key still refused; the admin's
one-time password handed over once in a framed message with what to do next."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ketapain.capture.app import first_start_message
from ketapain.capture.config import stored_secret_key
from ketapain.cli import app
from ketapain.errors import DataError

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


def test_a_key_is_made_once_owner_only_and_reused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'trial.sqlite'}"
    first = stored_secret_key(url)
    assert first.created and first.path == tmp_path / "trial.sqlite.secret-key"
    assert stat.S_IMODE(first.path.stat().st_mode) == 0o600
    assert len(first.key) == 64  # token_urlsafe(48): 48 random bytes
    again = stored_secret_key(url)
    assert not again.created and again.key == first.key
    assert stored_secret_key(f"sqlite:///{tmp_path / 'other.sqlite'}").key != first.key


def test_a_key_others_can_read_or_a_weak_key_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'trial.sqlite'}"
    key = stored_secret_key(url).path
    key.chmod(0o644)
    with pytest.raises(DataError, match=r"may be read by others \(mode -rw-r--r--\); make it private with: chmod 600 "):
        stored_secret_key(url)
    key.chmod(0o600)
    key.write_text("change-me\n")
    with pytest.raises(DataError, match="holds a weak secret key"):
        stored_secret_key(url)


def test_a_server_database_keeps_its_key_in_the_config_folder(tmp_path: Path) -> None:
    url = "postgresql+psycopg://ketapain@db.example/trial"
    made = stored_secret_key(url, config_dir=tmp_path / "keys")
    assert made.path.parent == tmp_path / "keys" and made.path.suffix == ".key"
    assert stored_secret_key(url, config_dir=tmp_path / "keys").key == made.key
    assert stored_secret_key(url + "2", config_dir=tmp_path / "keys").path != made.path


def test_first_start_message_is_framed_and_says_what_to_do() -> None:
    text = first_start_message("admin", "s3cret-Pass", url="http://127.0.0.1:8000")
    lines = text.splitlines()
    assert lines[0] == lines[-1] and set(lines[0]) == {"+", "-"}
    assert {len(line) for line in lines} == {len(lines[0])}
    assert all(line.startswith("| ") and line.endswith(" |") for line in lines[1:-1])
    assert "password:   s3cret-Pass" in text and "shown only this once" in text
    assert "open http://127.0.0.1:8000/login" in text


def test_serve_starts_without_settings_and_hands_over_the_password_once(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[object] = []
    monkeypatch.setattr("uvicorn.run", lambda served, **kw: started.append((served, kw)))
    for name in [n for n in os.environ if n.startswith("KETAPAIN_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    first = runner.invoke(app, ["serve", "--port", "8123"])
    assert first.exit_code == 0, first.output
    key_file = tmp_path / "ketapain-capture.sqlite.secret-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert f"secret key: made and kept in {key_file}" in first.stderr
    assert "password:" in first.stderr and "open http://127.0.0.1:8123/login" in first.stderr
    assert started and started[0][1]["port"] == 8123  # type: ignore[index]
    key = key_file.read_text()
    second = runner.invoke(app, ["serve", "--port", "8123"])
    assert second.exit_code == 0, second.output
    assert f"secret key: read from {key_file}" in second.stderr and "password:" not in second.stderr
    assert key_file.read_text() == key  # reused, never overwritten


def test_serve_refuses_a_weak_explicit_key_and_creates_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("must not serve"))
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["serve"], env={"KETAPAIN_SECRET_KEY": "change-me", "KETAPAIN_DATABASE_URL": ""})
    assert res.exit_code == 1
    assert res.stderr.startswith("error: secret_key: a default or short secret key is refused; set KETAPAIN_SECRET_KEY")
    assert list(tmp_path.iterdir()) == []
