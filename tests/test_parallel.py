"""Parallel replications give exactly the serial results, locally and on a Dask cluster."""

from __future__ import annotations

import pandas as pd
import pytest

from dispatch_sim.experiments import run_scenario, run_tasks


def _table(run):
    return run.incidents.sort_values(["replication", "report_id"]).reset_index(drop=True)


@pytest.mark.parametrize("pool_worth_s", [0.0, 1e9], ids=["forked-pool", "small-work-stays-here"])
def test_local_pool_equals_serial(small_world, monkeypatch, pool_worth_s):
    """Two tasks run in this process first (warming the compiled dispatcher for forked workers); the
    rest go to a pool unless they are too little work to be worth one. Either way: the serial table."""
    from dispatch_sim import experiments

    a = run_scenario(small_world, replications=5, workers=1)
    monkeypatch.setattr(experiments, "POOL_WORTH_S", pool_worth_s)
    forked = []
    real = experiments.ProcessPoolExecutor

    def counting_pool(*args, **kw):
        forked.append(kw.get("max_workers"))
        return real(*args, **kw)

    monkeypatch.setattr(experiments, "ProcessPoolExecutor", counting_pool)
    b = run_scenario(small_world, replications=5, workers=2)
    pd.testing.assert_frame_equal(_table(a), _table(b))
    assert a.summary.on_time == b.summary.on_time
    assert forked == ([2] if pool_worth_s == 0 else [])


def test_dask_local_cluster_equals_serial(small_world):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        b = run_scenario(small_world, replications=3, scheduler=cluster.scheduler_address)
    a = run_scenario(small_world, replications=3, workers=1)
    pd.testing.assert_frame_equal(_table(a), _table(b))


def test_resume_reuses_finished_tasks(small_world, tmp_path):
    tasks = [(r, 5, 1.0, None) for r in range(3)]
    first = run_tasks(small_world, tasks, workers=1, resume_dir=tmp_path)
    assert len(list(tmp_path.glob("*.pkl"))) == 3
    (tmp_path / "rep1_seed5_load1.0_cNone.pkl").unlink()  # as if interrupted before task 1 finished
    calls = []
    again = run_tasks(small_world, tasks, workers=1, resume_dir=tmp_path, progress=lambda d, t: calls.append(d))
    assert calls == [3]  # only the missing task ran
    for x, y in zip(first, again):
        assert (x.arrived_min[x.arrived_min == x.arrived_min] == y.arrived_min[y.arrived_min == y.arrived_min]).all()


def test_killed_dask_worker_still_yields_complete_results(small_world):
    """A worker process killed while replications run: its tasks are retried elsewhere and the
    results are complete and identical to a serial run."""
    import os
    import signal

    distributed = pytest.importorskip("distributed")
    from dispatch_sim import World, scenario_from_dict
    from tests.conftest import small_scenario

    world = World(scenario_from_dict(small_scenario(run={"horizon_days": 12, "replications": 8})),
                  G=small_world.G, router=small_world.router)
    killed = {}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as watcher:
        pids_before = set(watcher.run(os.getpid).values())

        def kill_one(done, total):
            if not killed and done < total:
                busy = [w for w, keys in watcher.processing().items() if keys]
                pid = watcher.run(os.getpid, workers=busy[:1])
                (addr, victim), = pid.items()
                os.kill(victim, signal.SIGKILL)
                killed.update(addr=addr, pid=victim, done=done, total=total)

        b = run_scenario(world, scheduler=cluster.scheduler_address, progress=kill_one)
        watcher.wait_for_workers(2, timeout=60)
        pids_after = set(watcher.run(os.getpid).values())
    assert killed and killed["done"] < killed["total"]
    assert killed["pid"] not in pids_after and pids_after != pids_before  # the nanny started a new worker
    a = run_scenario(world, workers=1)
    assert sorted(b.incidents["replication"].unique()) == list(range(8))
    pd.testing.assert_frame_equal(_table(a), _table(b))
