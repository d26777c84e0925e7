"""Figures of the benchmark: median, min and max over runs, targets, and the printed tables.

Pure formatting and statistics; no measuring here.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb


@dataclass
class Figure:
    """One reported quantity: a sample per run; `ratio_of` names the ceiling it is compared to."""

    section: str
    name: str
    unit: str
    samples: list[float] = field(default_factory=list)
    target: str = ""
    meets: Callable[[float], bool] | None = None
    ratio: float | None = None  # median / ceiling median, when it has a ceiling
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def verdict(self) -> str:
        if self.meets is None or not self.samples:
            return ""
        return "met" if self.meets(self.median) else "NOT met"


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: p99 of 200 samples is the 198th smallest."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))]


def _number(value: float, unit: str) -> str:
    if unit in ("spans/s", "rows/s", "B/span", "MiB", "count"):
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def _row(figure: Figure) -> list[str]:
    if not figure.samples:
        return [figure.name, "-", "-", "-", figure.unit, "", figure.target, "skipped"]
    ratio = f"{figure.ratio:.0%}" if figure.ratio is not None else ""
    return [figure.name, _number(figure.median, figure.unit), _number(min(figure.samples), figure.unit),
            _number(max(figure.samples), figure.unit), figure.unit, ratio, figure.target, figure.verdict()]


_HEADER = ["figure", "median", "min", "max", "unit", "of ceiling", "target", ""]


def text_table(figures: list[Figure]) -> str:
    rows = [_HEADER, *(_row(f) for f in figures)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
    lines, section = [], None
    for figure, row in zip([None, *figures], rows, strict=True):
        if figure is not None and figure.section != section:
            section = figure.section
            lines.append(f"-- {section}")
        cells = [cell.ljust(width) if i == 0 or i >= 4 else cell.rjust(width)
                 for i, (cell, width) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def markdown_table(figures: list[Figure]) -> str:
    lines = ["| " + " | ".join(_HEADER) + " |", "|" + "|".join(["---", *["---:"] * 3, "---", "---:", "---", "---"]) + "|"]
    section = None
    for figure in figures:
        if figure.section != section:
            section = figure.section
            lines.append(f"| **{section}** | | | | | | | |")
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in _row(figure)) + " |")
    return "\n".join(lines)


def machine() -> str:
    """One line naming the machine: CPUs, memory, kernel, Python and DuckDB versions, load."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (f"{os.cpu_count()} CPUs ({model}), {memory_gib:.0f} GiB RAM, Linux {platform.release()}, "
            f"Python {sys.version.split()[0]}, duckdb {duckdb.__version__}; load average {load}")
