"""`python -m bench` (make bench): the full benchmark; `--quick` (make bench-smoke): a smoke run."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path

from bench import report
from bench.run import FULL, QUICK, Bench, machine
from bench.servers import CLIENT_CPU, SERVER_CPU, client_cpu_affinity, uvicorn_stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small records, short runs")
    parser.add_argument("--workdir", type=Path, help="where bodies, logs and results go")
    args = parser.parse_args(argv)
    client_cpu_affinity()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="footdrop-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    bench = Bench(workdir, QUICK if args.quick else FULL)
    started = time.monotonic()
    for line in machine():
        print(line)
    print(f"load generator: {bench.loadgen.name}, pinned to CPU {CLIENT_CPU} (taskset)")
    print(f"servers: {uvicorn_stack()}, each pinned to CPU {SERVER_CPU} (taskset)")
    with bench.started():
        print(f"service: metrics {bench.metrics_present()}; logging INFO; database SQLite")
        print()
        print("## results: floor, service-jwt (as deployed), service-off, side by side")
        workloads = list(bench.workloads())
        for workload in workloads:
            bench.measure(workload)
        fallback = bench.fallback()
        target = next(w for w in workloads if w.label == bench.target_label)
        feedback = bench.feedback(target.calls[0].body)
        client_check = bench.client_check(workloads[0])
        profiles = [bench.profile(w) for w in (workloads[0], target)]
    print(client_check)
    print(f"FHIR fallback: the cards were {', '.join(fallback['cards'])}")
    print()
    for line in report.peer_lines(bench):
        print(line)
    print()
    print("## targets (issue 15)")
    verdicts = report.targets(bench, fallback, feedback)
    for verdict in verdicts:
        print(verdict)
    for found in profiles:
        if found:
            print()
            for line in report.profile_lines(found):
                print(line)
    (workdir / "results.md").write_text("\n".join(report.table(bench)) + "\n")
    (workdir / "results.json").write_text(
        json.dumps([dataclasses.asdict(m) for m in bench.results], indent=1) + "\n"
    )
    (workdir / "targets.txt").write_text("\n".join(str(v) for v in verdicts) + "\n")
    print()
    print(f"load average at end (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"done in {time.monotonic() - started:.0f} s; "
        f"results.md, results.json, logs and bodies in {workdir}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
