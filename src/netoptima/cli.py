"""The ``netoptima`` command: ``reproduce``, ``list``, ``report``, ``certify``.

Bad input (unknown claim ids, bad scales, unreachable schedulers, unusable devices) gets one line on stderr
naming the value and what is allowed, and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from netoptima.claims import BROKEN_PARTS, SCALES, select

EXIT_USAGE = 2


class UsageError(Exception):
    """A user mistake reported as one line and exit code 2."""


class Terminated(BaseException):
    """SIGTERM arrived (``timeout``, a batch scheduler): unwinds like Ctrl-C, exit code 128 + signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.code = 128 + signum


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated(signum)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="netoptima", description="Construct, reach and certify global optima of "
                                "neural networks: run the papers' claims and compare with their figures.")
    sub = p.add_subparsers(dest="command", required=True, metavar="{reproduce,list,judge,report,certify}")
    r = sub.add_parser("reproduce", help="run claims (all by default) and write a report")
    r.add_argument("targets", nargs="*", metavar="CLAIM|PART", help="claim ids (ntk.width_convergence) or parts (ntk)")
    r.add_argument("--scale", default="small", help=f"one of {', '.join(SCALES)} (default: small)")
    r.add_argument("--out", default="netoptima-results", help="output directory (default: ./netoptima-results)")
    r.add_argument("--workers", default=None, help="local worker processes (default: number of cores, max 4)")
    r.add_argument("--scheduler", default=None, help="Dask scheduler address, e.g. tcp://host:8786")
    r.add_argument("--seed", default="0", help="base seed (default 0)")
    r.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:N, mps (default cpu)")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    r.add_argument("--plan", action="store_true", help="run nothing: count each claim's finished and missing runs "
                   "under --out and show them in the report as 'not run: k of N runs done'")
    li = sub.add_parser("list", help="list claims, their papers, needs, rough time per scale and the measured "
                        "paper-scale time")
    li.add_argument("--results", default=None, help="a --scale paper output directory to read measured times from "
                    "(default: the repository's results/paper, when netoptima runs from a checkout)")
    jud = sub.add_parser("judge", help="re-judge stored evidence with today's rules and re-render the report "
                         "(runs nothing)")
    jud.add_argument("dir", nargs="?", default="netoptima-results")
    rep = sub.add_parser("report", help="re-render the report from stored results (runs nothing)")
    rep.add_argument("dir", nargs="?", default="netoptima-results")
    # listed for --help only: main() hands the rest of the line to netoptima.convex.cli's own parser
    sub.add_parser("certify", add_help=False, help="how far is a saved network from the global optimum? "
                   "(netoptima certify --help)")
    return p


MAX_SEED = 2**31 - 1  # seeds are offset per run and fed to numpy (32-bit) and torch


def _int_arg(name: str, value: str, low: int, high: int | None = None) -> int:
    allowed = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"
    try:
        v = int(value)
    except ValueError:
        raise UsageError(f"{name} must be {allowed}, got {value!r}") from None
    if v < low or (high is not None and v > high):
        raise UsageError(f"{name} must be {allowed}, got {value!r}")
    return v


def _check_out(value: str) -> Path:
    """``--out`` must be a directory we can create and write (checked before any claim runs)."""
    if not value.strip():
        raise UsageError("--out must name a directory, got ''")
    out = Path(value)
    for parent in (out, *out.parents):
        if parent.exists() and not parent.is_dir():
            raise UsageError(f"--out {value!r} is not usable: {str(parent)!r} is a file, not a directory")
    try:
        (out / "claims").mkdir(parents=True, exist_ok=True)
        probe = out / ".netoptima-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"--out {value!r} is not writable: {exc.strerror or exc}") from None
    return out


def _check_device(device: str) -> str:
    if not re.fullmatch(r"cpu|mps|cuda(:\d+)?", device):
        raise UsageError(f"--device must be cpu, cuda, cuda:N or mps, got {device!r}")
    import torch

    if device.startswith("cuda"):
        idx = int(device.split(":")[1]) if ":" in device else 0
        if not torch.cuda.is_available() or idx >= torch.cuda.device_count():
            raise UsageError(f"--device {device!r} is not available here "
                             f"({torch.cuda.device_count()} CUDA devices); use --device cpu")
    if device == "mps" and not torch.backends.mps.is_available():
        raise UsageError("--device 'mps' is not available here; use --device cpu")
    return device


def cmd_reproduce(args: argparse.Namespace) -> int:
    from netoptima.claims import run_claim
    from netoptima.report import render, save_evidence
    from netoptima.sweep import Runner, SchedulerUnreachable, connect

    if args.scale not in SCALES:
        raise UsageError(f"--scale must be one of {', '.join(SCALES)}, got {args.scale!r}")
    cores = os.cpu_count() or 1
    workers = (_int_arg("--workers", args.workers, 1, 4 * cores) if args.workers is not None
               else max(1, min(cores, 4)))
    seed = _int_arg("--seed", args.seed, 0, MAX_SEED)
    device = _check_device(args.device)
    try:
        claims = select(args.targets)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    client = None
    if args.scheduler:
        try:
            client = connect(args.scheduler)
        except SchedulerUnreachable as exc:
            raise UsageError(str(exc)) from None
    out = _check_out(args.out)
    crashed = 0 if args.targets else len(BROKEN_PARTS)  # a named target of a broken part failed in select()
    for part, error in BROKEN_PARTS.items():
        print(f"netoptima: part {part!r} could not be loaded, its claims are skipped: {error}", file=sys.stderr)
    where = f"Dask scheduler {args.scheduler}" if client else f"{workers} local worker(s)"
    print(f"netoptima: {len(claims)} claim(s) at scale {args.scale!r} on {where} -> {out}/"
          + (" (plan: nothing runs)" if args.plan else ""), file=sys.stderr)
    try:
        for c in claims:
            claim_dir = out / "claims" / c.id
            runner = Runner(claim_dir, executor="dask" if client else "local", workers=workers, scheduler=client,
                            seed=seed, device=device, quiet=True if args.quiet else None, runs_dir=out / "runs",
                            plan=args.plan, progress_file=claim_dir / PROGRESS)
            meta = _claim_meta(c, args.scale, seed, runner.device)
            if args.plan:
                _plan_claim(c, args.scale, runner, meta)
                continue
            runner.write_progress(**meta)  # replaced by evidence.json when the claim finishes
            t0 = time.perf_counter()
            ev = run_claim(c, args.scale, runner)
            seconds = time.perf_counter() - t0
            # exit 1 for a crash or for "not run" because runs failed (a missing optional input is not a failure)
            crashed += ev.crashed or (ev.verdict == "not run" and bool(runner.failures))
            record = {**ev.record(c, args.scale), "seed": seed, "device": runner.device, "seconds": seconds,
                      "runs_resumed": runner.resumed, "runs_executed": runner.ran, "machine": meta["machine"],
                      "finished_at": time.strftime("%Y-%m-%d %H:%M")}
            if ev.crashed and _verdict_scale(claim_dir / "evidence.json") is not None:
                # a crash never overwrites a computed verdict: the failure is kept beside it
                save_evidence(claim_dir, record, name="evidence.crashed.json")
                print(f"  {c.id}: crashed; the previous evidence is kept, the failure is in "
                      f"{claim_dir / 'evidence.crashed.json'}", file=sys.stderr)
            else:
                save_evidence(claim_dir, record)
            (claim_dir / PROGRESS).unlink(missing_ok=True)
            resumed = f", {runner.resumed} run(s) resumed" if runner.resumed else ""
            print(f"  {c.id}: {ev.verdict} ({seconds:.1f} s{resumed}) {ev.judgement.measured}", file=sys.stderr)
    finally:
        if client is not None:
            client.close()
    skipped: list[tuple[Path, str]] = []
    table, md, html_path = render(out, skipped)
    _name_skipped(skipped)
    print(table)
    print(f"\nreport: {html_path} and {md}")
    if crashed:
        print(f"netoptima: {crashed} claim(s) or part(s) crashed; see the messages above and 'detail' in the report",
              file=sys.stderr)
        return 1
    return 0


PROGRESS = "progress.json"  # a claim's sweep counts while it runs (or after --plan); removed with its evidence


def _machine() -> str:
    import platform

    import torch

    return f"{os.cpu_count()} CPU cores ({platform.machine()}), torch {torch.__version__}"


def _claim_meta(c: Any, scale: str, seed: int, device: str) -> dict[str, Any]:
    """What the report shows of a claim that has no verdict yet."""
    return {"id": c.id, "paper": c.paper, "statement": c.statement, "paper_value": c.paper_value, "scale": scale,
            "deviation": c.settings[scale].deviation, "budget": c.budget[scale], "seed": seed, "device": device,
            "machine": _machine()}


def _plan_claim(c: Any, scale: str, runner: Any, meta: dict[str, Any]) -> None:
    """Count a claim's finished and missing runs without running any (``reproduce --plan``)."""
    from netoptima.sweep import runs_done

    if _verdict_scale(runner.claim_dir / "evidence.json") == scale:
        print(f"  {c.id}: has a verdict at scale {scale!r}", file=sys.stderr)
        return
    try:
        c.run(c.settings[scale], runner)
        counted = "all"
    except Exception as exc:  # a claim that maps on earlier results cannot go on without them: count what it saw
        counted = f"the sweeps before the first that needs earlier results ({type(exc).__name__})"
    runner.write_progress(**meta, counted=counted)
    finished, total = runner.counts
    print(f"  {c.id}: {runs_done(finished, total, counted)}", file=sys.stderr)


# the committed paper-scale evidence of a source checkout (src/netoptima/cli.py -> <repo>/results/paper)
PAPER_RESULTS = Path(__file__).resolve().parents[2] / "results" / "paper"


def _measured_paper(claim_dir: Path) -> str:
    """The stored paper-scale time and verdict of one claim (or its sweep's progress), '' when none."""
    from netoptima.claims import PAPER_SUBSET_PREFIX
    from netoptima.sweep import read_progress

    for name in ("evidence.json", PROGRESS):
        if name == PROGRESS:
            rec = read_progress(claim_dir / name)
        else:
            try:
                rec = json.loads((claim_dir / name).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
        if not isinstance(rec, dict) or rec.get("scale") != "paper":
            continue
        where = ", ".join(str(x) for x in (claim_dir.parent.parent, rec.get("finished_at") or rec.get("updated"),
                                            rec.get("machine")) if x)
        if name == PROGRESS:
            return f"not finished: {rec['runs_done']} ({where})"
        seconds = rec.get("seconds")
        took = f"{seconds / 60:.1f} min" if isinstance(seconds, (int, float)) else "time not recorded"
        k, done = rec.get("runs_resumed") or 0, rec.get("runs_executed")
        # a resumed sweep's time covers only the runs this invocation executed: say so, never extrapolate (run
        # costs differ: cogo.match_rate resumed 11 cheap d = 23/71 nets and ran 4 d = 127 ones)
        ran = "" if not isinstance(done, int) else " (no run executed: judging only)" if done == 0 else \
            f" for the {done} run{'s' if done != 1 else ''} it executed"
        resumed = f"{ran}, {k} run{'s' if k != 1 else ''} resumed from earlier sessions" if k else ""
        subset = " (paper subset)" if str(rec.get("deviation", "")).startswith(PAPER_SUBSET_PREFIX) else ""
        return f"{took}{resumed} -> {rec.get('verdict')}{subset} ({where})"
    return ""


def _verdict_scale(path: Path) -> str | None:
    """The scale of stored evidence that holds a computed verdict, ``None`` when there is none."""
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(rec, dict) and rec.get("verdict") in ("reproduced", "partly", "not reproduced")
    return str(rec.get("scale")) if ok else None


def cmd_list(args: argparse.Namespace) -> int:
    from netoptima.claims import missing_needs

    results = Path(args.results) if args.results else PAPER_RESULTS
    if args.results and not results.is_dir():
        raise UsageError(f"--results {args.results!r} is not a directory (expected a --scale paper --out)")
    for c in select([]):
        print(f"{c.id}\n  {c.paper}: {c.statement}\n  paper says: {c.paper_value}")
        print("  rough time: " + ", ".join(f"{s} {c.budget[s]}" for s in SCALES))
        measured = _measured_paper(results / "claims" / c.id)
        if measured:
            print(f"  paper scale measured: {measured}")
        if c.settings["small"].deviation:
            print(f"  small scale differs from the paper: {c.settings['small'].deviation}")
        print(f"  devices: {'cpu only (' + c.cpu_only + ')' if c.cpu_only else 'any torch device (--device)'}")
        if c.needs:
            missing = missing_needs(c)
            print(f"  needs: {', '.join(c.needs)}" + (f" (missing: {', '.join(missing)})" if missing else ""))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from netoptima.report import render

    skipped: list[tuple[Path, str]] = []
    try:
        table, md, html_path = render(args.dir, skipped)
    except FileNotFoundError as exc:
        _name_skipped(skipped)
        if skipped:
            return 1
        raise UsageError(str(exc)) from None
    _name_skipped(skipped)
    print(table)
    print(f"\nreport: {html_path} and {md}")
    return 1 if skipped else 0


def _name_skipped(skipped: list[tuple[Path, str]]) -> None:
    for path, error in skipped:
        print(f"netoptima: skipped {path}: {error}", file=sys.stderr)


def cmd_judge(args: argparse.Namespace) -> int:
    """Re-judge every stored claim from its evidence data with today's rules, then re-render the report."""
    from netoptima.report import rejudge_dir, render

    root = Path(args.dir)
    if not root.is_dir():
        raise UsageError(f"DIR {str(root)!r} is not a directory (expected the --out of `netoptima reproduce`)")
    changed, errors = rejudge_dir(root)
    for path, error in errors:
        print(f"netoptima: skipped {path}: {error}", file=sys.stderr)
    for cid, old, new in changed:
        print(f"netoptima: {cid}: {old} -> {new} under today's rules", file=sys.stderr)
    try:
        table, md, html_path = render(root)
    except FileNotFoundError as exc:
        if errors:
            return 1
        raise UsageError(str(exc)) from None
    print(table)
    print(f"\nreport: {html_path} and {md}")
    return 1 if errors else 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["certify"]:
        if {"mnist", "digits"} & set(argv[1:]):  # the quadratic-net shortcut: a one-vs-all data set by name
            from netoptima.convex.cli import certify_cli

            return certify_cli(argv[1:])
        from netoptima.certification.cli import certify_main

        return certify_main(argv[1:])
    args = _parser().parse_args(argv)
    import signal
    import threading

    main_thread = threading.current_thread() is threading.main_thread()  # only there can signals be caught
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
    try:
        return {"reproduce": cmd_reproduce, "list": cmd_list, "judge": cmd_judge,
                "report": cmd_report}[args.command](args)
    except UsageError as exc:
        print(f"netoptima: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (KeyboardInterrupt, Terminated) as exc:
        from netoptima.sweep import shutdown_pools

        shutdown_pools(terminate=True)
        code = exc.code if isinstance(exc, Terminated) else 130
        print(f"netoptima: {'terminated' if code == 143 else 'interrupted'}; finished runs are kept, the same "
              "command resumes", file=sys.stderr)
        return code
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
