"""Sweeps: atomic records, resume after SIGKILL, failures recorded, local processes == Dask LocalCluster."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from netoptima.sweep import Runner, atomic_write_json, config_hash, run, run_fn


@run_fn(version=1)
def seeded_value(config: dict) -> dict:
    """A deterministic, seed-dependent computation (torch RNG + float64 arithmetic)."""
    import torch

    g = torch.Generator().manual_seed(config["seed"])
    x = torch.randn(50, 50, generator=g, dtype=torch.float64)
    return {"trace": float(torch.trace(x @ x.T)), "pid": os.getpid()}


@run_fn(version=1)
def sometimes_fails(config: dict) -> dict:
    if config["i"] == 2:
        raise RuntimeError("boom at i=2")
    return {"square": config["i"] ** 2}


@run_fn(version=1)
def dies_on_three(config: dict) -> dict:
    if config["i"] == 3:
        os._exit(1)  # a hard crash of the worker process, not an exception
    return {"pid": os.getpid()}


def test_config_hash_is_stable_and_order_free():
    a = config_hash(seeded_value, {"seed": 1, "width": 8})
    assert a == config_hash(seeded_value, {"width": 8, "seed": 1})
    assert a != config_hash(seeded_value, {"seed": 2, "width": 8})
    assert a != config_hash(sometimes_fails, {"seed": 1, "width": 8})
    with pytest.raises(ValueError, match="config must be JSON"):
        config_hash(seeded_value, {"x": object()})


def test_the_version_keys_the_record_and_undecorated_functions_are_refused():
    def plain(config):
        return {}

    with pytest.raises(ValueError, match=r"decorate it with @netoptima.sweep.run_fn\(version=1\)"):
        config_hash(plain, {"seed": 1})
    v1 = config_hash(run_fn(version=1)(plain), {"seed": 1})
    assert config_hash(run_fn(version=2)(plain), {"seed": 1}) != v1
    with pytest.raises(ValueError, match="version must be an integer >= 1"):
        run_fn(version=0)


@pytest.mark.parametrize("content", ["[]", "null", '{"status": "ok"}', "{trunc", b"\xff\xfe", "dir"])
def test_corrupt_records_are_redone(tmp_path, content):
    rid = config_hash(sometimes_fails, {"i": 3})
    path = tmp_path / f"{rid}.json"
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    (rec,) = run(sometimes_fails, [{"i": 3}], tmp_path, quiet=True)
    assert rec["status"] == "ok" and not rec["resumed"] and rec["result"] == {"square": 9}
    assert json.loads(path.read_text())["result"] == {"square": 9}


def test_in_process_option_and_device_in_every_config(tmp_path):
    r = Runner(tmp_path, workers=2, quiet=True, device="cpu")
    (res,) = r.map(seeded_value, [{"seed": 3}], in_process=True)
    assert res["pid"] == os.getpid() and res["device"] == "cpu"


def test_atomic_write_leaves_no_temp_files(tmp_path):
    p = atomic_write_json(tmp_path / "a" / "r.json", {"x": 1.5})
    assert json.loads(p.read_text()) == {"x": 1.5}
    assert [f.name for f in p.parent.iterdir()] == ["r.json"]


def test_rerun_skips_finished_runs(tmp_path):
    configs = [{"seed": s} for s in range(4)]
    first = run(seeded_value, configs, tmp_path, quiet=True)
    assert [r["status"] for r in first] == ["ok"] * 4 and not any(r["resumed"] for r in first)
    stamps = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.json")}
    second = run(seeded_value, configs + [{"seed": 9}], tmp_path, quiet=True)
    assert [r["resumed"] for r in second] == [True] * 4 + [False]
    assert [r["result"] for r in second[:4]] == [r["result"] for r in first]
    assert all(p.stat().st_mtime_ns == stamps[p.name] for p in tmp_path.glob("*.json") if p.name in stamps)


def test_failure_is_recorded_and_others_finish(tmp_path):
    recs = run(sometimes_fails, [{"i": i} for i in range(4)], tmp_path, quiet=True)
    assert [r["status"] for r in recs] == ["ok", "ok", "failed", "ok"]
    assert "boom at i=2" in recs[2]["error"] and "Traceback" in recs[2]["traceback"]
    assert [r["result"]["square"] for r in recs if r["status"] == "ok"] == [0, 1, 9]
    stored = json.loads((tmp_path / f"{recs[2]['run_id']}.json").read_text())
    assert stored["status"] == "failed"
    # a failed run is retried on rerun (it is not finished); the finished ones are not
    again = run(sometimes_fails, [{"i": i} for i in range(4)], tmp_path, quiet=True)
    assert [r["resumed"] for r in again] == [True, True, False, True]


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="executor"):
        run(seeded_value, [{"seed": 0}], tmp_path, executor="slurm")
    with pytest.raises(ValueError, match="workers"):
        run(seeded_value, [{"seed": 0}], tmp_path, workers=0)
    with pytest.raises(ValueError, match="scheduler"):
        run(seeded_value, [{"seed": 0}], tmp_path, executor="dask")


def test_process_pool_matches_in_process(tmp_path):
    configs = [{"seed": s} for s in range(4)]
    serial = run(seeded_value, configs, tmp_path / "serial", workers=1, quiet=True)
    pooled = run(seeded_value, configs, tmp_path / "pool", workers=2, quiet=True)
    assert [r["result"]["trace"] for r in serial] == [r["result"]["trace"] for r in pooled]
    assert {r["result"]["pid"] for r in pooled} != {os.getpid()}  # really ran in other processes
    from netoptima import sweep

    pool = sweep._pool(2)
    more = run(seeded_value, [{"seed": s} for s in range(4, 8)], tmp_path / "pool", workers=2, quiet=True)
    # the pool outlives one sweep: the next sweep reuses its processes instead of spawning new ones
    assert sweep._pool(2) is pool
    assert {r["result"]["pid"] for r in pooled + more} <= set(pool._processes)


def test_dead_worker_is_recorded_and_retried(tmp_path):
    recs = run(dies_on_three, [{"i": i} for i in range(3, 6)], tmp_path, workers=2, quiet=True)
    assert recs[0]["status"] == "failed" and "worker process died" in recs[0]["error"]
    again = run(dies_on_three, [{"i": i} for i in range(4, 7)], tmp_path, workers=2, quiet=True)
    assert all(r["status"] == "ok" for r in again)  # a fresh pool replaced the broken one


def test_dask_localcluster_matches_local(tmp_path):
    distributed = pytest.importorskip("distributed")
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the test module is not on workers' path
    configs = [{"seed": s} for s in range(4)]
    local = run(seeded_value, configs, tmp_path / "local", quiet=True)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        remote = run(seeded_value, configs, tmp_path / "dask", executor="dask", scheduler=client, quiet=True)
        # the same records, so a local sweep resumes a Dask one and vice versa
        again = run(seeded_value, configs, tmp_path / "local", executor="dask", scheduler=cluster.scheduler_address,
                    quiet=True)
    assert [r["result"]["trace"] for r in remote] == [r["result"]["trace"] for r in local]
    assert all(r["resumed"] for r in again)
    assert sorted(p.name for p in (tmp_path / "local").glob("*.json")) == \
        sorted(p.name for p in (tmp_path / "dask").glob("*.json"))


def test_unreachable_scheduler_is_a_clear_error(tmp_path):
    pytest.importorskip("distributed")
    from netoptima.sweep import SchedulerUnreachable, connect

    with pytest.raises(SchedulerUnreachable, match="tcp://127.0.0.1:9"):
        connect("tcp://127.0.0.1:9", timeout=1)


def test_a_failed_connect_leaks_no_client_thread():
    """Issue 17 item 9: each failed connect used to leave its client's 'IO loop' thread running."""
    pytest.importorskip("distributed")
    import threading

    from netoptima.sweep import SchedulerUnreachable, connect

    def io_loops() -> int:
        return sum(t.name == "IO loop" and t.is_alive() for t in threading.enumerate())

    before = io_loops()
    for _ in range(3):
        with pytest.raises(SchedulerUnreachable):
            connect("tcp://127.0.0.1:9", timeout=0.5)
    assert io_loops() == before


SLOW_SWEEP = textwrap.dedent("""
    import sys, time
    from netoptima.sweep import run, run_fn

    @run_fn(version=1)
    def slow_square(config):
        with open(sys.argv[2], "a") as log:
            log.write(f"start {config['i']}\\n")
        time.sleep(0.4)
        return {"square": config["i"] ** 2}

    if __name__ == "__main__":
        recs = run(slow_square, [{"i": i} for i in range(8)], sys.argv[1], quiet=True)
        print(sum(r["resumed"] for r in recs))
""")


def _kill_when(proc: subprocess.Popen, out: Path, n_files: int, timeout: float = 60) -> None:
    t0 = time.monotonic()
    while len(list(out.glob("*.json"))) < n_files:
        assert proc.poll() is None, "the sweep ended before it could be killed"
        assert time.monotonic() - t0 < timeout
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def test_sigkilled_sweep_resumes_without_losing_or_redoing(tmp_path):
    script, out, log = tmp_path / "sweep.py", tmp_path / "runs", tmp_path / "calls.log"
    script.write_text(SLOW_SWEEP)
    proc = subprocess.Popen([sys.executable, str(script), str(out), str(log)], start_new_session=True)
    _kill_when(proc, out, 3)
    before = {p.name: p.read_bytes() for p in out.glob("*.json")}
    assert 3 <= len(before) < 8
    assert not list(out.glob(".*.tmp"))  # killed mid-run: no half-written record
    done = subprocess.run([sys.executable, str(script), str(out), str(log)], capture_output=True, text=True,
                          check=True)
    assert int(done.stdout) == len(before)  # every finished run was resumed, not redone
    after = {p.name: p.read_bytes() for p in out.glob("*.json")}
    assert len(after) == 8
    assert all(after[name] == blob for name, blob in before.items())  # nothing lost or rewritten
    finished_first = {json.loads(b)["config"]["i"] for b in before.values()}
    starts = [int(line.split()[1]) for line in log.read_text().splitlines()]
    assert all(starts.count(i) == 1 for i in finished_first)  # finished runs executed exactly once
    assert sorted(set(starts)) == list(range(8))
    squares = sorted(json.loads(b)["result"]["square"] for b in after.values())
    assert squares == [i * i for i in range(8)]


def test_runners_with_one_runs_dir_share_identical_runs(tmp_path):
    first = Runner(tmp_path / "claims" / "a.x", runs_dir=tmp_path / "runs", quiet=True)
    second = Runner(tmp_path / "claims" / "a.y", runs_dir=tmp_path / "runs", quiet=True)
    assert first.map(seeded_value, [{"seed": 1}]) == second.map(seeded_value, [{"seed": 1}, {"seed": 2}])[:1]
    assert (first.ran, second.resumed, second.ran) == (1, 1, 1)


def test_runner_merges_config_and_collects_failures(tmp_path):
    r = Runner(tmp_path, quiet=True)
    res = r.map(sometimes_fails, [{"i": i} for i in range(4)])
    assert res == [{"device": "cpu", "i": i, "square": i * i} for i in (0, 1, 3)]
    assert len(r.failures) == 1 and r.ran == 4 and r.resumed == 0
    assert len(list((tmp_path / "runs" / "test_sweep.sometimes_fails").glob("*.json"))) == 4


def test_plan_runs_nothing_and_counts_finished_runs(tmp_path):
    done = Runner(tmp_path / "claims" / "a.x", runs_dir=tmp_path / "runs", quiet=True)
    done.map(seeded_value, [{"seed": 1}, {"seed": 2}])
    plan = Runner(tmp_path / "claims" / "a.y", runs_dir=tmp_path / "runs", quiet=True, plan=True,
                  progress_file=tmp_path / "progress.json")
    got = plan.map(seeded_value, [{"seed": s} for s in (1, 2, 3, 3)])  # a repeated config is one run
    plan.map(sometimes_fails, [{"i": 0}])
    assert [r["seed"] for r in got] == [1, 2] and plan.ran == 0 and plan.counts == (2, 4)
    assert not (tmp_path / "runs" / "test_sweep.sometimes_fails").exists() or \
        not list((tmp_path / "runs" / "test_sweep.sometimes_fails").glob("*.json"))
    plan.write_progress(id="a.y")
    stored = json.loads((tmp_path / "progress.json").read_text())
    assert (stored["id"], stored["finished"], stored["total"]) == ("a.y", 2, 4)
    assert stored["sweeps"] == [["seeded_value", 2, 3], ["sometimes_fails", 0, 1]]


def test_progress_file_follows_a_running_sweep(tmp_path):
    r = Runner(tmp_path, quiet=True, progress_file=tmp_path / "progress.json")
    r.write_progress(id="a.z", scale="small")
    r.map(sometimes_fails, [{"i": i} for i in range(4)])  # a failed run is not a finished one
    stored = json.loads((tmp_path / "progress.json").read_text())
    assert (stored["id"], stored["scale"], stored["finished"], stored["total"]) == ("a.z", "small", 3, 4)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dask_cluster(tmp_path):
    """A real Dask scheduler and two workers, each its own process on loopback, like a user's cluster."""
    pytest.importorskip("distributed")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    procs = [subprocess.Popen(dask + ["--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    for _ in range(2):
        procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                                       "--no-dashboard", "--host", "127.0.0.1"], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    from distributed import Client

    t0 = time.monotonic()
    while True:
        try:
            with Client(address, timeout=2) as c:
                if len(c.scheduler_info()["workers"]) == 2:
                    break
        except OSError:
            pass
        assert time.monotonic() - t0 < 60, "the Dask cluster did not come up"
        time.sleep(0.3)
    yield address, procs, env
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


SQUARES_MODULE = textwrap.dedent("""
    import os, time
    from netoptima.sweep import run_fn

    @run_fn(version=1)
    def square(config):
        time.sleep(config.get("sleep", 0))
        return {"square": config["i"] ** 2, "pid": os.getpid()}
""")


def test_real_dask_cluster_gives_the_same_records_as_local(tmp_path, dask_cluster):
    address, procs, env = dask_cluster
    (tmp_path / "dask_squares.py").write_text(SQUARES_MODULE)
    sys.path.insert(0, str(tmp_path))
    try:
        import dask_squares

        configs = [{"i": i} for i in range(6)]
        remote = run(dask_squares.square, configs, tmp_path / "dask", executor="dask", scheduler=address,
                     quiet=True)
        local = run(dask_squares.square, configs, tmp_path / "local", quiet=True)
    finally:
        sys.path.remove(str(tmp_path))
    assert [r["status"] for r in remote] == ["ok"] * 6
    assert [r["result"]["square"] for r in remote] == [r["result"]["square"] for r in local]
    assert {r["result"]["pid"] for r in remote} <= {p.pid for p in procs[1:]} | _children(procs[1:])
    assert sorted(p.name for p in (tmp_path / "dask").glob("*.json")) == \
        sorted(p.name for p in (tmp_path / "local").glob("*.json"))


def _children(procs) -> set[int]:
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid in {p.pid for p in procs}:
            out.add(int(stat.parent.name))
    return out


def test_cli_with_a_real_scheduler_and_a_killed_worker(tmp_path, dask_cluster):
    address, procs, env = dask_cluster
    (tmp_path / "dask_squares.py").write_text(SQUARES_MODULE)
    plugin = textwrap.dedent("""
        from dataclasses import dataclass
        from netoptima.claims import Judgement, Settings, claim
        from dask_squares import square

        @dataclass(frozen=True, kw_only=True)
        class S(Settings):
            n: int = 6

        def run_squares(s, runner):
            return {"runs": runner.map(square, [{"i": i, "sleep": 0.5} for i in range(s.n)])}

        @claim(id="plugin.dask", paper="-", statement="-", paper_value="55", run=run_squares,
               settings={k: S() for k in ("smoke", "small", "paper")},
               budget={k: "5 s" for k in ("smoke", "small", "paper")})
        def judge(data, s):
            total = sum(r["square"] for r in data["runs"])
            return Judgement("reproduced" if total == 55 else "not reproduced", str(total), "sum of squares is 55")
    """)
    (tmp_path / "dask_plugin.py").write_text(plugin)
    env = {**env, "NETOPTIMA_CLAIM_MODULES": "dask_plugin"}
    out = tmp_path / "results"
    cmd = [sys.executable, "-m", "netoptima", "reproduce", "plugin.dask", "--out", str(out), "--scheduler", address]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    procs[2].kill()  # a worker dies mid-sweep: its run fails or moves to the other worker, never hangs
    stdout, stderr = proc.communicate(timeout=120)
    runs = list((out / "runs" / "dask_squares.square").glob("*.json"))
    statuses = [json.loads(p.read_text())["status"] for p in runs]
    assert len(runs) == 6 and "ok" in statuses, stderr
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    ev = json.loads((out / "claims" / "plugin.dask" / "evidence.json").read_text())
    assert ev["verdict"] == "reproduced" and ev["runs_resumed"] == statuses.count("ok")


def test_stale_temp_files_are_cleaned_fresh_ones_kept(tmp_path):
    stale, fresh = tmp_path / ".abc.json.x1.tmp", tmp_path / ".def.json.x2.tmp"
    stale.write_text("{half")
    fresh.write_text("{half")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    run(sometimes_fails, [{"i": 1}], tmp_path, quiet=True)
    assert not stale.exists() and fresh.exists()
