"""Figures, and how they are shown: a Rich table on the terminal, JSON and Markdown in bench/results/.

Every figure carries its baselines from the same run — the raw engine writing the same rows, a
trivial FastAPI endpoint under the same client — and the ratio to each, because a shared
machine's absolute numbers drift from one hour to the next while the ratios hold much better.
"""

from __future__ import annotations

import json
import math
import platform
import sqlite3
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.harness import RESULTS, ROOT


@dataclass
class Measure:
    """One measured quantity. ``value`` is the headline (a rate, or a p99 in ms)."""

    value: float
    unit: str  # "records/s", "rows/s" or "ms"
    detail: dict[str, float] = field(default_factory=dict)

    @property
    def is_latency(self) -> bool:
        return self.unit == "ms"

    def text(self) -> str:
        if math.isnan(self.value):
            return "-"
        if self.is_latency:
            d = self.detail
            if {"p50", "p95", "p99"} <= set(d):
                return f"{d['p50']:.1f} / {d['p95']:.1f} / {d['p99']:.1f} ms"
            return f"{self.value:.1f} ms"
        return f"{self.value:,.0f} {self.unit}"


@dataclass
class Baseline:
    name: str  # "raw engine" | "trivial endpoint" | ...
    how: str  # e.g. "COPY of the same 61,212 rows"
    measure: Measure


@dataclass
class Target:
    text: str  # ">= 2,000 records/s"
    threshold: float
    higher_is_better: bool

    def met_by(self, value: float) -> bool:
        return value >= self.threshold if self.higher_is_better else value < self.threshold


@dataclass
class Figure:
    bench: str  # ingest | import | read
    engine: str
    name: str
    size: str
    measure: Measure
    baselines: list[Baseline] = field(default_factory=list)
    target: Target | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.target.met_by(self.measure.value)

    def ratio(self, baseline: Baseline) -> float:
        """Throughput: Rapport / baseline (share of the raw rate). Latency: Rapport / baseline (times slower)."""
        if not baseline.measure.value or math.isnan(baseline.measure.value):
            return math.nan
        return self.measure.value / baseline.measure.value

    def ratio_text(self, baseline: Baseline) -> str:
        r = self.ratio(baseline)
        if math.isnan(r):
            return "-"
        if self.measure.is_latency:
            return f"{r:.1f}× slower" if r >= 1 else f"{r:.2f}×"
        return f"{r:.1%} of it"


def _cell(b: Baseline | None, f: Figure) -> str:
    if b is None:
        return ""
    return f"{b.measure.text()}\n[dim]{f.ratio_text(b)}[/]"


def render(figures: list[Figure], console: Console, title: str) -> None:
    table = Table(title=title, show_lines=True)
    for col in ("engine", "figure", "data size", "Rapport", "raw engine", "trivial endpoint", "target"):
        table.add_column(col, overflow="fold")
    for f in figures:
        raw = next((b for b in f.baselines if b.name == "raw engine"), None)
        trivial = next((b for b in f.baselines if b.name == "trivial endpoint"), None)
        met = f.met
        target = "" if f.target is None else f"{f.target.text} " + ("[green]✓[/]" if met else "[red]✗[/]")
        table.add_row(f.engine, f.name, f.size, f.measure.text(), _cell(raw, f), _cell(trivial, f), target)
    console.print(table)
    for f in figures:
        for note in f.notes:
            console.print(f"[dim]{f.engine} · {f.name}: {note}[/]")


def _markdown(figures: list[Figure], meta: dict[str, Any]) -> str:
    m = meta["machine"]
    lines = [
        f"# Rapport benchmark — {meta['finished_at']}",
        "",
        f"Mode: **{meta['mode']}** · machine: {m['cpus']} CPUs, {m['python']}, SQLite {m['sqlite']}, "
        f"{m.get('postgresql', 'PostgreSQL not used')} · load average {m['load_average_at_start']} at start, "
        f"{m.get('load_average_at_end', '?')} at end · commit {meta['commit']} · took {meta['seconds']:.0f} s",
        "",
        "| engine | figure | data size | Rapport | raw engine (ratio) | trivial endpoint (ratio) | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        raw = next((b for b in f.baselines if b.name == "raw engine"), None)
        trivial = next((b for b in f.baselines if b.name == "trivial endpoint"), None)

        def cell(b: Baseline | None, f: Figure = f) -> str:
            return "" if b is None else f"{b.measure.text()} ({f.ratio_text(b)})"

        target = "" if f.target is None else f"{f.target.text} {'✅' if f.met else '❌'}"
        lines.append(
            f"| {f.engine} | {f.name} | {f.size} | {f.measure.text()} | {cell(raw)} | {cell(trivial)} | {target} |"
        )
    lines += ["", "## How each baseline was measured", ""]
    for f in figures:
        for b in f.baselines:
            lines.append(f"- {f.engine} · {f.name} · {b.name}: {b.how}")
    notes = [(f, n) for f in figures for n in f.notes]
    if notes:
        lines += ["", "## Notes", ""]
        lines += [f"- {f.engine} · {f.name}: {n}" for f, n in notes]
    return "\n".join(lines) + "\n"


def machine() -> dict[str, Any]:
    import os

    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "python": f"Python {platform.python_version()}",
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    return info


def commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def save(figures: list[Figure], meta: dict[str, Any], directory: Path = RESULTS) -> tuple[Path, Path]:
    """Write ``<UTC timestamp>.json`` and ``latest.md``; returns both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    payload = {
        **meta,
        "figures": [{**asdict(f), "met": f.met, "ratios": {b.name: f.ratio(b) for b in f.baselines}} for f in figures],
    }
    json_path = directory / f"{stamp}.json"
    json_path.write_text(json.dumps(payload, indent=2, default=str, allow_nan=True))
    md_path = directory / "latest.md"
    md_path.write_text(_markdown(figures, meta))
    return json_path, md_path
