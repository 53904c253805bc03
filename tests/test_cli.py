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
    from netoptima.claims import Evidence, claim

    def slow_square(config):
        with open(os.environ["PLUGIN_LOG"], "a") as log:
            log.write(f"{config['i']}\\n")
        time.sleep(0.4)
        return {"square": config["i"] ** 2}

    @claim(id="plugin.squares", paper="none", statement="squares are squares", paper_value="sum 140")
    def squares(scale, runner):
        runs = runner.map(slow_square, [{"i": i} for i in range(8)])
        total = sum(r["square"] for r in runs)
        return Evidence(measured=total, verdict="reproduced" if total == 140 else "not reproduced")
''')


@pytest.mark.parametrize("argv, needle", [
    (["reproduce", "no.such_claim"], "'no.such_claim'"),
    (["reproduce", "--scale", "huge"], "'huge'"),
    (["reproduce", "--workers", "0"], "--workers must be an integer >= 1, got '0'"),
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
    assert not (out / "claims" / "plugin.squares" / "evidence.json").exists()

    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    after = {p.name: p.read_bytes() for p in runs.glob("*.json")}
    assert len(after) == 8 and all(after[k] == v for k, v in before.items())
    calls = [int(x) for x in (tmp_path / "calls.log").read_text().split()]
    for blob in before.values():
        assert calls.count(json.loads(blob)["config"]["i"]) == 1  # finished before the kill: never redone
    ev = json.loads((out / "claims" / "plugin.squares" / "evidence.json").read_text())
    assert ev["measured"] == 140 and ev["verdict"] == "reproduced"
    assert ev["runs_resumed"] == len(before) and ev["runs_executed"] == 8 - len(before)
    assert "plugin.squares" in done.stdout and "reproduced" in done.stdout
    assert (out / "report.html").exists() and (out / "report.md").exists()


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
