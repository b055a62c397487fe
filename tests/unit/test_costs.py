import math

import pytest

from workbook.ai import catalog
from workbook.course.costs import (
    API_MODEL, CHOICES, DAYS_PER_MONTH, DEFAULT_OPS, HOURS_PER_MONTH, CostInputs, OpsCost, api_monthly_cost,
    break_even_tokens_per_day, break_even_vs_ops, compare_costs, cost_curves, recommend,
    self_hosted_monthly_cost, servers_needed,
)

# The bare arithmetic: one server, nobody to pay for running it.
BARE = dict(ops_monthly=0.0, min_servers=1)


def test_api_cost_is_linear_in_volume_and_mixes_prices():
    inputs = CostInputs(tokens_per_day=1_000_000, price_in_per_m=1.0, price_out_per_m=3.0, input_share=0.5)
    assert inputs.blended_price_per_token == pytest.approx(2.0 / 1e6)
    assert api_monthly_cost(inputs) == pytest.approx(DAYS_PER_MONTH * 2.0)
    assert api_monthly_cost(inputs, 2_000_000) == pytest.approx(2 * api_monthly_cost(inputs))


def test_self_hosted_is_a_staircase_of_whole_servers():
    inputs = CostInputs(tokens_per_day=0, gpu_hourly=1.0, throughput_tokens_per_s=100, utilization=1.0,
                        ops_monthly=50, min_servers=1)
    capacity = 100 * 86_400
    assert servers_needed(inputs, 0) == 1
    assert servers_needed(inputs, capacity) == 1
    assert servers_needed(inputs, capacity + 1) == 2
    assert self_hosted_monthly_cost(inputs, capacity + 1) == pytest.approx(2 * HOURS_PER_MONTH + 50)


def test_break_even_on_the_first_step_equals_fixed_cost_over_api_rate():
    inputs = CostInputs(tokens_per_day=0, price_in_per_m=2.5, price_out_per_m=10, gpu_hourly=0.8,
                        throughput_tokens_per_s=1500, **BARE)
    volume = break_even_tokens_per_day(inputs)
    assert volume == pytest.approx(0.8 * HOURS_PER_MONTH / (DAYS_PER_MONTH * inputs.blended_price_per_token))
    assert api_monthly_cost(inputs, volume) == pytest.approx(self_hosted_monthly_cost(inputs, volume))
    assert api_monthly_cost(inputs, volume * 0.99) < self_hosted_monthly_cost(inputs, volume * 0.99)


def test_break_even_matches_a_dense_numerical_search():
    for inputs in [CostInputs(0, 0.15, 0.60, 0.8, 1500, **BARE),
                   CostInputs(0, 0.15, 0.6, 2.0, 300, ops_monthly=3000, min_servers=1),
                   CostInputs(0, 5, 15, 4, 400, utilization=0.3, **BARE),
                   CostInputs(0),  # the defaults: two servers and the assumed ops cost
                   CostInputs(0, 5, 15, 4, 400, utilization=0.3, min_servers=3)]:
        analytic = break_even_tokens_per_day(inputs)
        grid = [i * 1e5 for i in range(1, 200_000)]
        api, own = cost_curves(inputs, grid)
        first = next((v for v, a, o in zip(grid, api, own) if o <= a), None)
        if analytic is None:
            assert first is None
        else:
            assert first is not None and abs(first - analytic) <= 1e5 + 1e-6 * analytic


def test_no_break_even_when_a_full_server_costs_more_than_its_api_traffic():
    inputs = CostInputs(0, price_in_per_m=0.01, price_out_per_m=0.01, gpu_hourly=10, throughput_tokens_per_s=10,
                        **BARE)
    assert break_even_tokens_per_day(inputs) is None


def test_break_even_on_a_later_step_with_ops_cost():
    inputs = CostInputs(0, 10, 10, gpu_hourly=1, throughput_tokens_per_s=100, utilization=1, ops_monthly=20_000,
                        min_servers=1)
    volume = break_even_tokens_per_day(inputs)
    assert volume is not None and servers_needed(inputs, volume) > 1
    assert self_hosted_monthly_cost(inputs, volume) <= api_monthly_cost(inputs, volume) + 1e-6


def test_invalid_inputs_are_named():
    with pytest.raises(ValueError, match="utilization"):
        CostInputs(1, utilization=0)
    with pytest.raises(ValueError, match="throughput"):
        CostInputs(1, throughput_tokens_per_s=0)
    with pytest.raises(ValueError, match="min_servers"):
        CostInputs(1, min_servers=0)


def test_recommend_api_at_low_volume_self_hosted_at_high_volume():
    low = recommend(CostInputs(tokens_per_day=100_000))
    high = recommend(CostInputs(tokens_per_day=400_000_000))
    assert low.choice == "api" and high.choice == "self-hosted"
    assert any("cheaper" in r for r in low.reasons) and any("cheaper" in r for r in high.reasons)
    assert high.comparison.self_hosted_monthly < high.comparison.api_monthly


def test_recommend_respects_hard_constraints_and_fine_tuning_conditions():
    base = CostInputs(tokens_per_day=100_000)
    assert recommend(base, data_must_stay_on_premises=True).choice == "self-hosted"
    big = CostInputs(tokens_per_day=2_000_000_000, price_in_per_m=2.5, price_out_per_m=10)
    assert recommend(big, needs_frontier_quality=True).choice == "api"
    assert recommend(big, has_ops_team=False).choice == "api"
    tuned = recommend(base, needs_custom_behaviour=True, fine_tune_beat_untrained=True, labelled_examples=2000)
    assert tuned.choice == "fine-tuned" and any("held-out" in r for r in tuned.reasons)
    # 08's rule: without a fine-tune that beat the untrained uses of the same examples, no fine-tune.
    untried = recommend(base, needs_custom_behaviour=True, labelled_examples=2000)
    assert untried.choice == "api" and any("before fine-tuning" in r for r in untried.reasons)
    # One rule, not two: no minimum count of examples beside it (too few make a test too noisy to beat).
    few = recommend(base, needs_custom_behaviour=True, fine_tune_beat_untrained=True, labelled_examples=50)
    assert few.choice == "fine-tuned" and any("50 labelled examples" in r for r in few.reasons)
    for rec in (tuned, untried, few):
        assert rec.choice in CHOICES and rec.reasons and str(rec).startswith(rec.choice)


def test_a_fine_tune_is_served_where_the_cost_comparison_says():
    """The recommendation's reasons agree: a fine-tune at a volume where the API is cheaper is a
    provider's hosted fine-tune; past the break-even, with people to run it, one served yourself."""
    tuned = dict(needs_custom_behaviour=True, fine_tune_beat_untrained=True, labelled_examples=2000)
    low = recommend(CostInputs(tokens_per_day=2_000_000), **tuned)
    assert low.comparison.cheaper == "api" and "hosted fine-tuning" in low.reasons[-1], low.reasons
    big = CostInputs(tokens_per_day=2_000_000_000, price_in_per_m=2.5, price_out_per_m=10)
    high = recommend(big, **tuned)
    assert high.comparison.cheaper == "self-hosted" and high.reasons[-1].startswith("serve it yourself")
    assert "hosted fine-tuning" in recommend(big, has_ops_team=False, **tuned).reasons[-1]
    assert "own hardware" in recommend(CostInputs(tokens_per_day=2_000_000), data_must_stay_on_premises=True,
                                       **tuned).reasons[-1]


def test_a_cheap_api_model_never_breaks_even_against_the_default_server():
    small = catalog.price("openai", catalog.tier_model("openai", "small"))
    assert break_even_tokens_per_day(CostInputs(0, price_in_per_m=small.input_per_1m,
                                                price_out_per_m=small.output_per_1m)) is None


def test_compare_costs_reports_the_cheaper_side():
    result = compare_costs(CostInputs(tokens_per_day=100_000))
    assert result.cheaper == "api" and result.servers == 2
    assert math.isfinite(result.break_even_tokens_per_day)


def test_the_default_api_price_is_the_catalogues_large_model():
    listed = catalog.price("openai", API_MODEL)
    defaults = CostInputs(0)
    assert (defaults.price_in_per_m, defaults.price_out_per_m) == (listed.input_per_1m, listed.output_per_1m)


def test_operations_cost_well_above_zero_and_adds_up():
    assert DEFAULT_OPS.monthly == pytest.approx(0.2 * 15_000 + 500 + 300)
    assert CostInputs(0).ops_monthly == DEFAULT_OPS.monthly >= 1_000
    assert OpsCost(engineer_share=0.5).monthly > DEFAULT_OPS.monthly


def test_redundancy_means_two_servers_even_when_idle():
    inputs = CostInputs(0)
    assert servers_needed(inputs, 0) == 2
    assert self_hosted_monthly_cost(inputs, 0) == pytest.approx(2 * inputs.server_monthly + inputs.ops_monthly)


def test_counting_operations_and_redundancy_moves_break_even_out():
    full = CostInputs(0)
    naive = full.with_(**BARE)
    assert break_even_tokens_per_day(full) > 5 * break_even_tokens_per_day(naive)


def test_break_even_grows_with_ops_cost():
    inputs = CostInputs(0)
    evens = break_even_vs_ops(inputs, [0, 1_000, 4_000, 10_000])
    assert all(e is not None for e in evens)
    assert evens == sorted(evens) and evens[0] < evens[-1]
    for ops, even in zip([0, 1_000, 4_000, 10_000], evens):
        with_ops = inputs.with_(ops_monthly=ops)
        assert self_hosted_monthly_cost(with_ops, even) == pytest.approx(api_monthly_cost(with_ops, even))
