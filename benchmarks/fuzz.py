"""Fuzz the inputs of emovox: malformed audio and odd Python-API arguments.

Runs ``--cases`` generated cases (tests/fuzz_inputs.py: wrong headers, truncations,
random bytes behind a valid magic, absurd rates and channel counts, extreme values, tiny
and huge declared sizes, arrays of every dtype and shape, odd paths and arguments) through
``load_audio`` and ``Recognizer.predict`` in a worker process, each under a time limit with
its memory measured, and ``--cli-cases`` of them through ``emovox predict FILE --json`` in
fresh processes. Every run must end as a result (a signal, a prediction) or one clear
emovox error: a traceback, a hang, a crash, an unclear message, an invalid result or
memory beyond the limit is a failure.

    python benchmarks/fuzz.py [--cases 1000] [--seed 0] [--cli-cases 40] \\
        [--markdown runs/fuzz.md] [--only INDEX ...]

It prints the table of outcomes and every failure with the seed:index that reproduces it
(``--only INDEX`` reruns those cases), and exits 1 when anything failed.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from fuzz_inputs import (  # noqa: E402  (after the path to tests/)
    OUTCOMES,
    Result,
    failures,
    generate_case,
    generate_cases,
    outcome_table,
    run_cases,
)

HEADER = ["target", "runs", *OUTCOMES, "with AudioWarning"]


def markdown_table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def family_table(results: list[Result]) -> str:
    families = sorted({r.family for r in results})
    lines = [
        "| family | cases | accepted | clear error | failures |",
        "|---|---|---|---|---|",
    ]
    for family in families:
        mine = [r for r in results if r.family == family and r.target != "cli"]
        counts = Counter(r.outcome for r in mine)
        cases = len({r.case for r in mine})
        bad = len(mine) - counts["accepted"] - counts["clear error"]
        lines.append(
            f"| {family} | {cases} | {counts['accepted']} | {counts['clear error']} | {bad} |"
        )
    return "\n".join(lines)


def section(args: argparse.Namespace, results: list[Result], seconds: float) -> str:
    cases = len({r.case for r in results})
    cli = sum(r.target == "cli" for r in results)
    bad = failures(results)
    errors = Counter(
        r.detail.split(":", 1)[0]
        for r in results
        if r.outcome == "clear error" and r.target != "cli" and r.detail
    )
    exits = Counter(
        0 if r.outcome == "accepted" else int(r.detail.split(":")[0].split()[1])
        for r in results
        if r.target == "cli" and r.outcome in ("accepted", "clear error")
    )
    other_warnings = Counter(w for r in results for w in r.other_warnings)
    text = [
        "## Fuzzing: malformed audio and odd arguments",
        "",
        f"`python benchmarks/fuzz.py --cases {args.cases} --seed {args.seed} "
        f"--cli-cases {args.cli_cases}`: {cases} generated cases, each through `load_audio` "
        f"and `Recognizer.predict` in a worker process ({args.timeout:g} s limit per run, "
        f"peak memory growth limit {args.memory_mb:g} MB), and {cli} of them through "
        f"`emovox predict FILE --json` in fresh processes; {len(results)} runs in "
        f"{seconds / 60:.1f} min on {platform.machine()} with Python "
        f"{platform.python_version()}. The cases (tests/fuzz_inputs.py, deterministic per "
        "seed and index) are wrong and absurd header fields (rates, channel counts, bit "
        "depths, format tags, chunk sizes and orders), tiny and huge declared lengths "
        "(WAV, RF64, AIFF, AU, FLAC STREAMINFO), truncations, overwritten, inserted and "
        "removed bytes, random bytes behind a valid magic, extreme sample values (NaN, "
        "infinities, far outside [-1, 1], int16 values as floats), arrays of every dtype and "
        "shape, odd keyword values, odd paths (FIFOs, devices, standard input, links) and "
        "non-audio objects.",
        "",
        "A run passes when it ends in a result (a signal, a prediction) or one clear emovox "
        "error; every other column is a failure.",
        "",
        markdown_table(outcome_table(results)),
        "",
        "Per family (load_audio and predict runs):",
        "",
        family_table(results),
        "",
        "Errors raised by load_audio and predict: "
        + ", ".join(f"{name} {count}" for name, count in errors.most_common())
        + (
            "; CLI exit codes: " + ", ".join(f"{c} x{n}" for c, n in sorted(exits.items()))
            if exits
            else ""
        )
        + ". `load_audio` issues an AudioWarning when it rescales input not scaled as audio; "
        "`predict` and the CLI report the same notes in the prediction's `warnings`.",
    ]
    slowest = max(results, key=lambda r: r.seconds)
    hungriest = max(results, key=lambda r: r.memory_mb if r.target != "cli" else 0.0)
    cli_peak = max((r.memory_mb for r in results if r.target == "cli"), default=0.0)
    text += [
        "",
        f"Slowest run: {slowest.seconds:.1f} s (`{slowest.case}` {slowest.target}); largest "
        f"peak memory growth in the worker: {hungriest.memory_mb:.0f} MB (`{hungriest.case}` "
        f"{hungriest.target})"
        + (f"; largest CLI peak RSS: {cli_peak:.0f} MB." if cli_peak else "."),
    ]
    if other_warnings:
        text += [
            "",
            "Warnings other than AudioWarning seen: "
            + "; ".join(f"{w} ({n})" for w, n in other_warnings.most_common(8))
            + ".",
        ]
    if bad:
        text += ["", f"Failures ({len(bad)}):", ""]
        text += [f"- `{r.case}` {r.target} {r.outcome}: {r.detail}" for r in bad[:50]]
    else:
        text += ["", "No failures."]
    return "\n".join(text) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cli-cases", type=int, default=40, help="cases also run via the CLI")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per run")
    parser.add_argument("--memory-mb", type=float, default=1024.0, help="peak growth per run")
    parser.add_argument("--markdown", type=Path, help="write the results section here")
    parser.add_argument("--only", type=int, nargs="+", help="run only these case indexes")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    args = parser.parse_args()

    if args.only:
        cases = [generate_case(args.seed, index) for index in args.only]
        for case in cases:
            print(f"{case.name} [{case.family}] {case.kind}: {case.what}")
    else:
        cases = generate_cases(args.cases, seed=args.seed)

    def progress(done: int, total: int) -> None:
        if not args.quiet and (done % 25 == 0 or done == total):
            print(f"\r{done}/{total} cases", end="", file=sys.stderr, flush=True)

    start = time.perf_counter()
    results = run_cases(
        cases,
        cli_cases=min(args.cli_cases, len(cases)),
        timeout=args.timeout,
        memory_mb=args.memory_mb,
        progress=progress,
    )
    seconds = time.perf_counter() - start
    if not args.quiet:
        print(file=sys.stderr)
    text = section(args, results, seconds)
    print(text)
    if args.only:
        for result in results:
            print(f"{result.case} {result.target}: {result.outcome} {result.detail}")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text)
        print(f"wrote {args.markdown}", file=sys.stderr)
    return 1 if failures(results) else 0


if __name__ == "__main__":
    sys.exit(main())
