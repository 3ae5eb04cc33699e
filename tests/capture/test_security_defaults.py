"""The app's password hasher keeps argon2-cffi's default (recommended) cost.

The capture tests swap in a cheap hasher for speed (tests/capture/conftest.py); this checks
what the application itself uses.
"""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher


def test_app_hasher_has_library_defaults(request: pytest.FixtureRequest) -> None:
    app_hasher: PasswordHasher = request.getfixturevalue("_fast_password_hashing")
    defaults = PasswordHasher()
    assert (app_hasher.time_cost, app_hasher.memory_cost, app_hasher.parallelism) == (
        defaults.time_cost, defaults.memory_cost, defaults.parallelism)
    assert app_hasher.hash("x").startswith("$argon2id$")
