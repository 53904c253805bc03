"""The `netoptima` command: one-line errors with exit code 2, and a killed `reproduce` that resumes."""

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

from netoptima.cli import main

PLUGIN = textwrap.dedent('''
    """A slow user claim, registered through NETOPTIMA_CLAIM_MODULES."""
    import os, time
    from dataclasses import dataclass
    from netoptima.claims import SCALES, Judgement, Settings, claim
    from netoptima.sweep import run_fn

    @dataclass(frozen=True, kw_only=True)
    class Squares(Settings):
        n: int = 8
        expected: int = 140

    @run_fn(version=1)
    def slow_square(config):
        with open(os.environ["PLUGIN_LOG"], "a") as log:
            log.write(f"{config['i']}\\n")
        time.sleep(0.4)
        return {"square": config["i"] ** 2}

    def squares_run(s, runner):
        return {"runs": runner.map(slow_square, [{"i": i} for i in range(s.n)])}

    @claim(id="plugin.squares", paper="none", statement="squares are squares", paper_value="sum 140",
           settings={k: Squares() for k in ("smoke", "small", "paper")}, run=squares_run,
           budget={k: "4 s" for k in ("smoke", "small", "paper")})
    def judge_squares(data, s):
        total = sum(r["square"] for r in data["runs"])
        return Judgement("reproduced" if total == s.expected else "not reproduced", str(total),
                         f"reproduced iff the sum is {s.expected}")
''')


@pytest.mark.parametrize("argv, needle", [
    (["reproduce", "no.such_claim"], "'no.such_claim'"),
    (["reproduce", "--scale", "huge"], "'huge'"),
    (["reproduce", "--workers", "0"], "--workers must be an integer in [1, "),
    (["reproduce", "--seed", "x"], "--seed"),
    (["reproduce", "--device", "tpu"], "'tpu'"),
    (["reproduce", "--scheduler", "tcp://127.0.0.1:9"], "cannot reach Dask scheduler 'tcp://127.0.0.1:9'"),
])
def test_bad_input_is_one_line_and_exit_2(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and err.startswith("netoptima: error:") and "\n" not in err


def test_report_without_results_is_exit_2(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "no stored results" in capsys.readouterr().err


def test_list_shows_registered_claims(capsys):
    assert main(["list"]) == 0
    assert "ntk.width_convergence" in capsys.readouterr().out


def _env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "user_claims.py").write_text(PLUGIN)
    return {**os.environ, "PYTHONPATH": str(tmp_path), "NETOPTIMA_CLAIM_MODULES": "user_claims",
            "PLUGIN_LOG": str(tmp_path / "calls.log")}


def test_killed_reproduce_resumes_without_redoing_finished_runs(tmp_path):
    out, env = tmp_path / "results", _env(tmp_path)
    cmd = [sys.executable, "-m", "netoptima", "reproduce", "plugin.squares", "--out", str(out), "--workers", "1"]
    runs = out / "runs" / "user_claims.slow_square"
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    t0 = time.monotonic()
    while len(list(runs.glob("*.json"))) < 3:
        assert proc.poll() is None and time.monotonic() - t0 < 60
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {p.name: p.read_bytes() for p in runs.glob("*.json")}
    assert 3 <= len(before) < 8
    claim_dir = out / "claims" / "plugin.squares"
    assert not (claim_dir / "evidence.json").exists()
    progress = json.loads((claim_dir / "progress.json").read_text())  # written while the sweep ran
    assert progress["total"] == 8 and 0 <= progress["finished"] <= len(before) and progress["scale"] == "small"

    # --plan counts the records on disk and runs nothing; the report shows the claim as "k of N runs done"
    calls = (tmp_path / "calls.log").read_text()
    plan = subprocess.run([*cmd, "--plan"], env=env, capture_output=True, text=True)
    assert plan.returncode == 0, plan.stderr
    assert (tmp_path / "calls.log").read_text() == calls
    assert f"plugin.squares: {len(before)} of 8 runs done" in plan.stderr
    assert f"not run: {len(before)} of 8 runs done" in (out / "report.md").read_text()
    assert f"not run: {len(before)} of 8 runs done" in plan.stdout

    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    after = {p.name: p.read_bytes() for p in runs.glob("*.json")}
    assert len(after) == 8 and all(after[k] == v for k, v in before.items())
    calls = [int(x) for x in (tmp_path / "calls.log").read_text().split()]
    for blob in before.values():
        assert calls.count(json.loads(blob)["config"]["i"]) == 1  # finished before the kill: never redone
    ev = json.loads((out / "claims" / "plugin.squares" / "evidence.json").read_text())
    assert ev["measured"] == "140" and ev["verdict"] == "reproduced"
    assert ev["runs_resumed"] == len(before) and ev["runs_executed"] == 8 - len(before)
    assert "plugin.squares" in done.stdout and "reproduced" in done.stdout
    assert (out / "report.html").exists() and (out / "report.md").exists()
    assert not (claim_dir / "progress.json").exists()  # the verdict replaced the counts
    again = subprocess.run([*cmd, "--plan"], env=env, capture_output=True, text=True)
    assert "plugin.squares: has a verdict at scale 'small'" in again.stderr and "reproduced" in again.stdout


def test_report_rerenders_from_stored_json(tmp_path, capsys):
    env = _env(tmp_path)
    out = tmp_path / "results"
    subprocess.run([sys.executable, "-m", "netoptima", "reproduce", "plugin.squares", "--out", str(out)],
                   env=env, check=True, capture_output=True)
    (out / "report.html").unlink()
    calls = (tmp_path / "calls.log").read_text()
    assert main(["report", str(out)]) == 0
    assert (out / "report.html").exists()
    assert "plugin.squares" in capsys.readouterr().out
    assert (tmp_path / "calls.log").read_text() == calls  # nothing re-ran


def test_judge_rejudges_stored_evidence_without_running(tmp_path, capsys):
    env = _env(tmp_path)
    out = tmp_path / "results"
    subprocess.run([sys.executable, "-m", "netoptima", "reproduce", "plugin.squares", "--out", str(out)],
                   env=env, check=True, capture_output=True)
    calls = (tmp_path / "calls.log").read_text()
    path = out / "claims" / "plugin.squares" / "evidence.json"
    ev = json.loads(path.read_text())
    ev["data"]["runs"][0]["square"] = 1  # the stored data, not the stored verdict, decides
    path.write_text(json.dumps(ev))
    (out / "claims" / "junk").mkdir()
    (out / "claims" / "junk" / "evidence.json").write_text("[1, 2")
    done = subprocess.run([sys.executable, "-m", "netoptima", "judge", str(out)], env=env, capture_output=True,
                          text=True)
    assert done.returncode == 1  # the corrupt file is named and skipped; the exit code says so
    assert "junk/evidence.json" in done.stderr and "plugin.squares: reproduced -> not reproduced" in done.stderr
    assert json.loads(path.read_text())["verdict"] == "not reproduced"
    assert "not reproduced" in done.stdout and (tmp_path / "calls.log").read_text() == calls


def test_judge_of_a_missing_dir_is_exit_2(tmp_path, capsys):
    assert main(["judge", str(tmp_path / "nope")]) == 2
    assert "is not a directory" in capsys.readouterr().err


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc), found while the tree is still intact."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pids: set[int], timeout: float = 10.0) -> set[int]:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        alive = {p for p in pids if Path(f"/proc/{p}").exists()
                 and Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"}
        if not alive:
            return alive
        time.sleep(0.1)
    return alive


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to see the process tree")
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGKILL, None)])
def test_signalled_reproduce_leaves_no_process_and_resumes(tmp_path, sig, code):
    out, env = tmp_path / "results", _env(tmp_path)
    cmd = [sys.executable, "-m", "netoptima", "reproduce", "plugin.squares", "--out", str(out), "--workers", "2"]
    runs = out / "runs" / "user_claims.slow_square"
    # as from a terminal: a suite started in the background inherits SIGINT ignored, and Python keeps it so
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    t0 = time.monotonic()
    while len(list(runs.glob("*.json"))) < 2:
        assert proc.poll() is None and time.monotonic() - t0 < 90
        time.sleep(0.02)
    tree = _descendants(proc.pid)
    assert tree, "the sweep should run in worker processes"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    if code is not None:
        assert proc.returncode == code
        lines = [x for x in err.splitlines() if x.startswith("netoptima: ") and "resumes" in x]
        assert len(lines) == 1 and "Traceback" not in err
    assert not _alive(tree), "worker processes survived the end of reproduce"
    kept = len(list(runs.glob("*.json")))
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    ev = json.loads((out / "claims" / "plugin.squares" / "evidence.json").read_text())
    assert ev["verdict"] == "reproduced" and ev["runs_resumed"] >= kept >= 2


@pytest.mark.parametrize("argv, needle", [
    (["reproduce", "--seed", str(10**20)], "--seed must be an integer in [0, 2147483647]"),
    (["reproduce", "--workers", "100000"], "--workers must be an integer in [1,"),
    (["reproduce", "--out", ""], "--out must name a directory"),
])
def test_more_bad_options(argv, needle, capsys):
    assert main(argv) == 2
    assert needle in capsys.readouterr().err


def test_out_under_a_file_is_exit_2(tmp_path, capsys):
    (tmp_path / "f").write_text("")
    assert main(["reproduce", "ntk", "--scale", "smoke", "--out", str(tmp_path / "f" / "sub")]) == 2
    assert "is a file, not a directory" in capsys.readouterr().err


def test_a_crash_keeps_the_stored_verdict_and_exits_1(tmp_path, monkeypatch, capsys):
    from dataclasses import dataclass

    import netoptima.claims as claims
    from netoptima.claims import SCALES, Judgement, Settings, claim

    claims.discover()
    monkeypatch.setattr(claims, "_REGISTRY", dict(claims._REGISTRY))

    @dataclass(frozen=True, kw_only=True)
    class S(Settings):
        pass

    mode = {"crash": False}

    def run(s, runner):
        if mode["crash"]:
            raise RuntimeError("broken on purpose")
        return {"x": 1}

    claim(id="test.crashy", paper="-", statement="-", paper_value="-", settings={k: S() for k in SCALES}, run=run,
          budget={k: "1 s" for k in SCALES})(lambda data, s: Judgement("reproduced", "1", "x is 1"))
    argv = ["reproduce", "test.crashy", "--scale", "smoke", "--out", str(tmp_path), "--quiet"]
    assert main(argv) == 0
    stored = (tmp_path / "claims" / "test.crashy" / "evidence.json").read_text()
    mode["crash"] = True
    assert main(argv) == 1
    assert (tmp_path / "claims" / "test.crashy" / "evidence.json").read_text() == stored
    crashed = json.loads((tmp_path / "claims" / "test.crashy" / "evidence.crashed.json").read_text())
    assert crashed["crashed"] and "broken on purpose" in crashed["detail"]
    assert "previous evidence is kept" in capsys.readouterr().err


def test_list_shows_the_measured_paper_time(tmp_path, capsys):
    claim_dir = tmp_path / "claims" / "ntk.width_convergence"
    claim_dir.mkdir(parents=True)
    (claim_dir / "evidence.json").write_text(json.dumps({
        "id": "ntk.width_convergence", "scale": "paper", "verdict": "reproduced", "seconds": 90.0,
        "finished_at": "2026-12-04 10:00", "machine": "2 CPU cores (x86_64), torch 2.13.0"}))
    pending = tmp_path / "claims" / "dynamics.hb_width"
    pending.mkdir()
    (pending / "progress.json").write_text(json.dumps({"id": "dynamics.hb_width", "scale": "paper", "finished": 5,
                                                        "total": 39}))
    resumed = tmp_path / "claims" / "dynamics.nag_width"
    resumed.mkdir()
    (resumed / "evidence.json").write_text(json.dumps({
        "id": "dynamics.nag_width", "scale": "paper", "verdict": "reproduced", "seconds": 600.0,
        "runs_executed": 169, "runs_resumed": 281}))
    judged = tmp_path / "claims" / "mup.feature_diversity"
    judged.mkdir()
    (judged / "evidence.json").write_text(json.dumps({
        "id": "mup.feature_diversity", "scale": "paper", "verdict": "partly", "seconds": 6.0,
        "runs_executed": 0, "runs_resumed": 1}))
    assert main(["list", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "paper scale measured: 1.5 min -> reproduced" in out and "2 CPU cores" in out
    # a resumed sweep's time covers only what this invocation ran; it says so instead of posing as the total
    assert "10.0 min for the 169 runs it executed, 281 runs resumed from earlier sessions -> reproduced" in out
    assert "0.1 min (no run executed: judging only), 1 run resumed from earlier sessions -> partly" in out
    assert "paper scale measured: not finished: 5 of 39 runs done" in out
    assert main(["list", "--results", str(tmp_path / "nope")]) == 2
