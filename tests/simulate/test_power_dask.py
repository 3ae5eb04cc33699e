"""``simulate_power`` on a Dask LocalCluster (2 worker processes) equals the serial run bit for bit."""

from __future__ import annotations

import pandas as pd
import pytest

from ketapain.simulate import simulate_power

distributed = pytest.importorskip("dask.distributed")

EFFECTS = {"K": {"effect_amplitude": -2.0, "effect_tau_days": 1000.0}}


def test_local_cluster_workers_start_with_the_sweep_malloc_settings() -> None:
    """Dask's nanny would set MALLOC_TRIM_THRESHOLD_=65536 (every block's arrays mmap-ed and
    page-faulted afresh); local_cluster's workers get SWEEP_MALLOC_ENV instead. First in this
    file: the nanny does not override a variable the process's environment already holds, and
    a LocalCluster alive in this process (the fixture below) leaves MALLOC_TRIM_THRESHOLD_ set."""
    import os

    from ketapain.simulate import SWEEP_MALLOC_ENV, local_cluster

    assert SWEEP_MALLOC_ENV == {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "1073741824"}
    with local_cluster(1) as cluster, distributed.Client(cluster) as c:
        env = c.run(lambda: {k: os.environ.get(k) for k in SWEEP_MALLOC_ENV})
    assert list(env.values()) == [SWEEP_MALLOC_ENV]


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as c:
        yield c


def test_two_workers_equal_serial_bit_for_bit(client) -> None:
    kw = {"n": [8, 12], "sims": 210, "seed": 17, "effects": EFFECTS, "dropout": 0.1}
    serial = simulate_power("ketapain", chunk_size=10_000, **kw)
    seen: list[int] = []
    dist = simulate_power("ketapain", chunk_size=100, client=client, on_progress=lambda d, t: seen.append(d), **kw)
    assert dist.to_dict() == serial.to_dict()       # floats compared exactly
    pd.testing.assert_frame_equal(dist.to_frame(), serial.to_frame(), check_exact=True)
    assert dist.failed == serial.failed and dist.sd_within == serial.sd_within
    assert seen[-1] == 2 * 210
    # the work really ran on both worker processes
    assert len(client.scheduler_info()["workers"]) == 2


def _cli_json(args: list[str]) -> dict:
    import json

    from typer.testing import CliRunner

    from ketapain.cli import app

    res = CliRunner().invoke(app, ["power", "--patients", "8,10", "--sims", "90", "--seed", "5", "--dropout", "0.1", "--json", *args])
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)


def test_cli_workers_and_scheduler_equal_serial(client) -> None:
    """`ketapain power --workers 2` (its own LocalCluster) and `--scheduler ADDRESS` (the
    fixture's running cluster) print the same JSON as the serial run."""
    serial = _cli_json([])
    assert _cli_json(["--scheduler", client.scheduler.address]) == serial
    assert _cli_json(["--workers", "2"]) == serial
    assert serial["sims"] == 90 and len(serial["n"]) == 2


def test_serial_cli_sets_its_own_malloc_and_a_cluster_run_does_not(client, monkeypatch: pytest.MonkeyPatch) -> None:
    from ketapain.cli import _power

    calls: list[dict[str, int]] = []
    monkeypatch.setattr(_power, "set_malloc", lambda **kw: calls.append(kw) or True)
    serial = _cli_json([])
    assert calls == [{"mmap_threshold": 32 * 1024 * 1024, "trim_threshold": 1024 ** 3}]
    assert _cli_json(["--scheduler", client.scheduler.address]) == serial
    assert len(calls) == 1  # the sweep ran on the cluster's workers: this process left as it is
