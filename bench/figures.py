"""The figures the latency benchmarks print."""

from __future__ import annotations


def percentile(values: list[float], share: float) -> float:
    """The value at ``share`` (0..1) of the sorted values, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def report(name: str, values: list[float], name_width: int = 28, width: int = 6) -> None:
    """One line: p50, p95 and max of ``values`` (milliseconds) and how many there were."""
    print(f"{name:<{name_width}} p50 {percentile(values, 0.5):{width}.0f}"
          f"  p95 {percentile(values, 0.95):{width}.0f}  max {max(values):{width}.0f}"
          f"  (n={len(values)})")
