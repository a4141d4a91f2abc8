"""`python -m bench` (make bench): the full benchmark; `--quick` (make bench-smoke): a smoke run."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench import report
from bench.run import FULL, QUICK, Bench, machine
from bench.servers import CLIENT_CPU, SERVER_CPU, client_cpu_affinity


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run: small records, short runs")
    parser.add_argument("--workdir", type=Path, help="where bodies, logs and results go")
    args = parser.parse_args(argv)
    client_cpu_affinity()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="footdrop-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    bench = Bench(workdir, QUICK if args.quick else FULL)
    started = time.monotonic()
    for line in machine():
        print(line)
    print(
        f"load generator: {bench.loadgen.name}, pinned to CPU {CLIENT_CPU}; "
        f"servers (uvicorn, 1 worker, h11, asyncio) pinned to CPU {SERVER_CPU} with taskset"
    )
    with bench.started():
        print(f"metrics: {bench.metrics_present()}; logging: INFO; database: SQLite")
        workloads = list(bench.workloads())
        for workload in workloads:
            bench.measure(workload)
        fallback = bench.fallback()
        target = next(
            w for w in workloads if w.label == f"patient-view generated-{bench.target_size}"
        )
        feedback = bench.feedback(target.calls[0].body)
        profiles = [
            bench.profile(w)
            for w in workloads
            if w.label in ("patient-view generated-10", target.label)
        ]
    print()
    print("## results (service-jwt as deployed, service-off, floor)")
    for line in report.table(bench.results, bench):
        print(line)
    print()
    for line in report.peer_lines(bench):
        print(line)
    print()
    print(f"FHIR fallback: cards {fallback['cards']}")
    print("## targets (issue 15)")
    verdicts = report.targets(bench, fallback, feedback)
    for verdict in verdicts:
        print(verdict)
    for found in profiles:
        if found:
            print()
            print(
                f"## profile: {found['workload']}, c16, {found['requests']} requests, "
                f"{found['cpu_ms']:.2f} ms CPU per request, {found['profile'].samples} samples"
            )
            for stage, share in found["profile"].stages:
                print(f"  {share:6.1%}  {share * found['cpu_ms']:7.2f} ms/req  {stage}")
            print("  hottest functions (self time):")
            for function, share in found["profile"].hottest:
                print(f"  {share:6.1%}  {function}")
    (workdir / "results.md").write_text(
        "\n".join(report.table(bench.results, bench, markdown=True)) + "\n"
    )
    (workdir / "targets.txt").write_text("\n".join(str(v) for v in verdicts) + "\n")
    print()
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"done in {time.monotonic() - started:.0f} s; logs, bodies and results.md in {workdir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
