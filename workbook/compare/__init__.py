"""Compare providers side by side: time to first token, latency, throughput, quality, cost.

```python
from workbook.ai import create_ai_provider
from workbook.compare import compare, run_comparison

df = compare({"fast": create_ai_provider(provider="mock", mock_ttft_s=0.05),
              "slow": create_ai_provider(provider="mock", mock_ttft_s=0.5)}, runs=2)

result = run_comparison({...})      # or: await run_comparison_async({...}) in a notebook
result.summary; result.records; result.quality_by_check; result.figures(); result.save("out")
```

``compare`` returns the summary DataFrame (the whole result in ``df.attrs["result"]``);
``run_comparison`` returns the whole ``ComparisonResult``. In a notebook prefer the
``await …_async`` forms. ``measure_concurrency`` sizes a single server; ``load`` does so as
serving benchmarks do (fixed concurrency or Poisson request rate, sweeps, SLO goodput). The command line:
``python -m workbook compare --provider mock --provider local``.

Modules: ``cases`` (the JSONL format and the checks), ``runner`` (timed calls), ``load``
(load shapes and goodput),
``metrics`` (percentiles and the summary), ``prices`` (illustrative price table),
``plots`` (figures), ``result`` (saving and display), ``provenance`` (when and where a run was
measured), ``cli`` (the command).
"""

from .api import (
    compare, compare_async, measure_concurrency, measure_concurrency_async, run_comparison,
    run_comparison_async,
)
from .load import (
    LoadRun, goodput, late_arrival, late_arrival_async, max_load_meeting_slo, meets_slo,
    poisson_arrivals, run_load, run_load_async, sweep, sweep_async,
)
from .cases import CHECKS, Case, CaseError, check_answer, default_cases, load_cases
from .metrics import SUMMARY_COLUMNS, percentile
from .plots import concurrency_figure, latency_figure, load_figure, provider_colors, quality_figure, speed_figure
from .prices import DEFAULT_PRICES, Price, price_table
from .result import ComparisonResult
from .runner import CallRecord, decode_rate, estimate_tokens

__all__ = [
    "compare", "compare_async", "run_comparison", "run_comparison_async",
    "measure_concurrency", "measure_concurrency_async", "ComparisonResult", "CallRecord",
    "Case", "CaseError", "CHECKS", "check_answer", "load_cases", "default_cases",
    "DEFAULT_PRICES", "Price", "price_table", "SUMMARY_COLUMNS", "percentile", "decode_rate",
    "estimate_tokens", "LoadRun", "goodput", "late_arrival", "late_arrival_async",
    "max_load_meeting_slo", "meets_slo", "poisson_arrivals", "run_load", "run_load_async",
    "sweep", "sweep_async", "load_figure", "latency_figure", "speed_figure", "quality_figure", "concurrency_figure",
    "provider_colors",
]
