"""Every UI string exists in English and French: the locale files have the same keys and
the same ``{placeholders}``, and every key the templates and page code use is defined."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from ketapain.capture import roles
from ketapain.capture.web import _errors, i18n
from ketapain.data import CAUSALITIES, SEVERITIES

WEB = Path(i18n.__file__).parent
EN, FR = i18n.load_locale("en"), i18n.load_locale("fr")


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def used_keys() -> set[str]:
    """Literal keys (``t('x.y')``) in the templates, plus the keys built from a prefix."""
    keys: set[str] = set()
    for f in (WEB / "templates").glob("*.html"):
        keys |= set(re.findall(r"\bt\('([a-z0-9_.]+)'", f.read_text()))
    prefixed = {k for k in keys if k.endswith(".")}
    keys -= prefixed
    code = "".join(f.read_text() for f in WEB.glob("_*.py"))
    keys |= {f"msg.{m}" for m in re.findall(r"[?&]msg=(\w+)", code)}
    keys |= {f"role.{r}" for r in roles.STAFF_ROLES} | {f"ae.sev.{s}" for s in SEVERITIES} | {f"ae.caus.{c}" for c in CAUSALITIES}
    keys |= {f"qry.status.{s}" for s in ("open", "answered", "closed")} | {f"err.{c}" for c in (401, 403, 404, 405, 409, 422, 429)}
    keys |= {"err.csrf", "err.generic"} | {f"err.type.{k}" for k in set(_errors._KINDS.values())}
    keys |= {f"diary.{i}" for i in ("avg_pain", "max_pain", "night_pain")}
    keys |= {f"chg.action.{a}" for a in ("lock", "unlock", "grant_role")} | {f"users.status.{s}" for s in ("active", "disabled")}
    keys |= {f"chg.status.{s}" for s in ("pending", "approved", "rejected", "withdrawn")}
    assert prefixed == {"ae.caus.", "ae.sev.", "chg.action.", "chg.status.", "diary.", "err.type.", "msg.", "qry.status.",
                        "role.", "users.status."}, prefixed  # all covered above
    return keys


def test_locales_have_the_same_keys_and_placeholders():
    assert set(EN) == set(FR)
    for key in EN:
        assert EN[key].strip() and FR[key].strip(), key
        assert _fields(EN[key]) == _fields(FR[key]), key


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_every_used_key_is_defined(lang):
    table = i18n.load_locale(lang)
    missing = sorted(k for k in used_keys() if k not in table)
    assert missing == []
    assert len(used_keys()) > 150   # the scan found the templates' keys


def test_french_differs_where_words_differ():
    assert FR["diary.save"] == "Enregistrer" and EN["diary.save"] == "Save"
    assert sum(EN[k] != FR[k] for k in EN) > 0.8 * len(EN)
