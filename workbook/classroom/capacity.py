"""The classroom's measured capacity (``benchmarks/classroom.py``'s JSON) as a table and a plot.

Notebook 11 and the README read the committed results through these, so the figures they
show are the ones the benchmark wrote -- with the date, machine and command it recorded.
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "classroom.json"
COLUMNS = {"requests": "requests", "errors": "errors", "ttft_s_p50": "TTFT p50 s",
           "ttft_s_p95": "TTFT p95 s", "tokens_per_s_p50": "tok/s p50", "tokens_per_s_p95": "tok/s p95",
           "latency_s_p50": "latency p50 s", "throughput_tok_s": "output tok/s",
           "goodput_rps": "goodput req/s", "slo_met_fraction": "SLO met"}


# A route is not a provider: notebook 11 draws this beside figures whose colours are its providers'
# (tab10 from the first colour on), so the routes take colours those figures do not use.
ROUTE_COLORS = {"gateway": "tab:purple", "direct": "tab:brown"}


def load_capacity(path: str | Path | None = None) -> dict:
    """The benchmark's results; ``FileNotFoundError`` says how to make them."""
    path = Path(path) if path is not None else RESULTS
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `python benchmarks/classroom.py` "
                                "(about 10 minutes) to measure this machine")
    return json.loads(path.read_text())


def capacity_table(result: dict):
    """One row per (class size, route): gateway = through the hub's service, direct = llama-server."""
    import pandas as pd

    table = pd.DataFrame(result["levels"]).set_index(["students", "route"]).sort_index()
    return table[list(COLUMNS)].rename(columns=COLUMNS)


def plot_capacity(result: dict):
    """Time to first token (p50, p95) and the server's output tokens/s against class size."""
    import matplotlib.pyplot as plt

    table = capacity_table(result)
    slo = result["settings"]["slo_ttft_s"]
    figure, (ttft_axis, rate_axis) = plt.subplots(1, 2, figsize=(11, 4))
    for route in ("gateway", "direct"):
        rows = table.xs(route, level="route")
        color = ROUTE_COLORS[route]
        # The concurrency figures' convention (workbook.compare.plots): p50 solid with circles, the tail dashed.
        ttft_axis.plot(rows.index, rows["TTFT p50 s"], "-o", color=color, label=f"{route} p50")
        ttft_axis.plot(rows.index, rows["TTFT p95 s"], "--^", color=color, label=f"{route} p95")
        rate_axis.plot(rows.index, rows["output tok/s"], "-o", color=color, label=route)
    ttft_axis.axhline(slo, color="black", linestyle=":", linewidth=1, label=f"SLO {slo:g} s")
    ttft_axis.set(xlabel="students", ylabel="time to first token (s)", title="Waiting for the first token")
    rate_axis.set(xlabel="students", ylabel="output tokens/s (whole server)", title="Server throughput")
    for axis in (ttft_axis, rate_axis):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle(f"One shared SmolLM2 on {result['machine']['cpus']} cores, measured {result['date'][:10]}")
    figure.tight_layout()
    return figure
