"""Tests of soa_sdk.canary_analysis on simulated, seeded telemetry (pure Python, no servers)."""

from __future__ import annotations

import math
import random

import pytest

from soa_sdk.canary_analysis import (
    AnalysisConfig,
    CanaryAnalyzer,
    Decision,
    VersionSample,
    binomial_upper,
    conservative_upper_quantile,
    log_evalue_difference,
)

WEIGHTS = (5, 25, 50, 100)
BATCH = 40
BASELINE_ERRORS = 0.005


def sample(rng: random.Random, n: int, error_rate: float, slow: float = 1.0) -> VersionSample:
    """n requests: Bernoulli errors, log-normal latencies (median 50 ms) times ``slow``."""
    errors = sum(1 for _ in range(n) if rng.random() < error_rate)
    latencies = tuple(rng.lognormvariate(math.log(50.0 * slow), 0.5) for _ in range(n))
    return VersionSample(n, errors, latencies)


def release(
    seed: int, canary_error_rate: float, slow: float = 1.0, max_batches_per_step: int = 150
) -> list[tuple[int, Decision]]:
    """Walk the weights like the release code will; returns (weight, decision) per batch."""
    rng = random.Random(seed)
    analyzer = CanaryAnalyzer()
    trace: list[tuple[int, Decision]] = []
    for weight in WEIGHTS:
        n_canary = BATCH * weight // 100
        for _ in range(max_batches_per_step):
            decision = analyzer.observe(
                sample(rng, BATCH - n_canary, BASELINE_ERRORS),
                sample(rng, n_canary, canary_error_rate, slow),
            )
            trace.append((weight, decision))
            if decision.verdict == "rollback":
                return trace
            if decision.verdict == "continue":
                break
        else:
            return trace  # still on hold at this weight
        analyzer.reset_step()
    return trace


def test_healthy_canary_is_promoted_through_every_step() -> None:
    trace = release(seed=7, canary_error_rate=BASELINE_ERRORS)
    continued = [weight for weight, d in trace if d.verdict == "continue"]
    assert continued == list(WEIGHTS)
    assert all(d.verdict != "rollback" for _, d in trace)
    last = trace[-1][1]
    assert last.evidence["log_e_promote"] >= last.evidence["log_e_promote_threshold"]
    assert last.evidence["latency_llr"] <= last.evidence["latency_llr_accept"]


def test_broken_canary_is_rolled_back_on_errors() -> None:
    trace = release(seed=3, canary_error_rate=0.05)
    weight, last = trace[-1]
    assert last.verdict == "rollback"
    assert "error rate" in last.reason
    assert last.evidence["log_e_rollback"] >= last.evidence["log_e_rollback_threshold"]
    # It never got past the second weight, and was never promoted on the way.
    assert weight <= 25
    assert all(d.verdict != "continue" for _, d in trace)


def test_slow_canary_is_rolled_back_on_latency() -> None:
    trace = release(seed=5, canary_error_rate=BASELINE_ERRORS, slow=2.0)
    _, last = trace[-1]
    assert last.verdict == "rollback"
    assert "slower" in last.reason
    ev = last.evidence
    assert ev["latency_llr"] >= ev["latency_llr_rollback"]
    assert ev["canary_slow_fraction"] > ev["latency_slow_h0"]
    assert ev["canary_p99_ms"] > 1.5 * ev["baseline_p99_ms"]


def cold_start(warmup: int) -> Decision:
    """The testers' burst of 20 canary requests, each 4x slower than the warm baseline,
    then interleaved user traffic at 5 % where both versions are alike."""
    rng = random.Random(8)
    analyzer = CanaryAnalyzer(AnalysisConfig(latency_warmup_requests=warmup))
    decision = analyzer.observe(sample(rng, 400, 0.0), sample(rng, 20, 0.0, slow=4.0))
    for _ in range(60):
        if decision.verdict != "hold":
            break
        decision = analyzer.observe(sample(rng, 380, 0.0), sample(rng, 20, 0.0))
    return decision


def test_canary_cold_start_is_not_judged_on_latency() -> None:
    assert cold_start(warmup=0).verdict == "rollback"  # the burst alone condemns it
    warmed = cold_start(warmup=20)
    assert warmed.verdict == "continue", warmed.reason
    ev = warmed.evidence
    # The burst's 20 latencies were left out, the users' ones judged.
    assert ev["canary_latency_samples"] == ev["canary_requests"] - 20
    assert ev["canary_slow_requests"] < ev["canary_latency_samples"] * 0.2
    assert ev["canary_p99_ms"] > ev["baseline_p99_ms"]  # the cold start stays on record


def test_rollback_is_sticky_until_reset() -> None:
    analyzer = CanaryAnalyzer()
    first = analyzer.observe(VersionSample(1000, 5), VersionSample(50, 25))
    assert first.verdict == "rollback"
    again = analyzer.observe(VersionSample(100, 0), VersionSample(100, 0))
    assert again is first
    analyzer.reset()
    assert analyzer.observe(VersionSample(100, 0), VersionSample(5, 0)).verdict == "hold"


def test_small_noisy_samples_never_roll_back() -> None:
    # A canary as good as the baseline, early batches at 5 %: a stray error is not evidence.
    rng = random.Random(11)
    for _ in range(30):
        analyzer = CanaryAnalyzer()
        for _ in range(5):
            d = analyzer.observe(sample(rng, 38, 0.01), sample(rng, 2, 0.01))
            assert d.verdict != "rollback"
    # Even one failure among the first requests, against a spotless baseline.
    analyzer = CanaryAnalyzer()
    assert analyzer.observe(VersionSample(380, 0), VersionSample(20, 1)).verdict == "hold"


def test_false_rollback_rate_of_healthy_canaries_is_small() -> None:
    rollbacks = sum(
        release(seed, BASELINE_ERRORS, max_batches_per_step=20)[-1][1].verdict == "rollback"
        for seed in range(100, 140)
    )
    assert rollbacks == 0


def test_hold_until_enough_requests_at_the_step() -> None:
    analyzer = CanaryAnalyzer(AnalysisConfig(min_requests_per_step=100, check_latency=False))
    d = analyzer.observe(VersionSample(20_000, 100), VersionSample(99, 0))
    assert d.verdict == "hold"
    assert "1 more canary requests" in d.reason
    d = analyzer.observe(VersionSample(0, 0), VersionSample(1, 0))
    assert d.verdict == "continue"
    analyzer.reset_step()
    d = analyzer.observe(VersionSample(0, 0), VersionSample(10, 0))
    assert d.verdict == "hold"
    assert d.evidence["step"] == 1 and d.evidence["step_canary_requests"] == 10


def test_same_seed_same_decisions() -> None:
    a = [(w, d.verdict, d.evidence["log_e_rollback"]) for w, d in release(21, 0.02)]
    b = [(w, d.verdict, d.evidence["log_e_rollback"]) for w, d in release(21, 0.02)]
    assert a == b


def test_evalue_is_valid_under_the_null() -> None:
    # At the edge of H0 (canary = baseline + tolerance), fixed-n checks of the e-value:
    # P(E >= 1/alpha) <= alpha by Markov; the simulated frequency stays well inside.
    rng = random.Random(4)
    alpha, hits = 0.1, 0
    for _ in range(300):
        xc = sum(rng.random() < 0.015 for _ in range(300))
        xb = sum(rng.random() < 0.010 for _ in range(3000))
        e = log_evalue_difference(xc, 300, xb, 3000, 0.005, "le", (2.0, 30.0))
        hits += e >= math.log(1 / alpha)
    assert hits / 300 <= alpha


def test_conservative_quantile_sits_above_the_true_p95() -> None:
    rng = random.Random(9)
    true_p95 = 50.0 * math.exp(0.5 * 1.6449)
    assert conservative_upper_quantile([50.0] * 20, 0.05, 0.005) is None
    values = sorted(rng.lognormvariate(math.log(50.0), 0.5) for _ in range(2000))
    t = conservative_upper_quantile(values, 0.05, 0.005)
    assert t is not None and t > true_p95
    assert sum(v > t for v in values) < 0.05 * len(values)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha_errors": 0.0}, "alpha_errors must be in (0, 1)"),
        ({"beta": 1.5}, "beta must be in (0, 1)"),
        ({"error_tolerance": 0.05, "error_mde": 0.02}, "error_tolerance < error_mde"),
        ({"error_tolerance": -0.01}, "0 <= error_tolerance"),
        ({"latency_tolerance": 0.3, "latency_mde": 0.2}, "latency_tolerance < latency_mde"),
        ({"min_requests_per_step": -1}, "min_requests_per_step must be an int >= 0"),
        ({"min_requests_for_rollback": 2.5}, "min_requests_for_rollback must be an int"),
        ({"latency_warmup_requests": -5}, "latency_warmup_requests must be an int >= 0"),
    ],
)
def test_config_validation(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        AnalysisConfig(**kwargs)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((10, 11), "errors <= requests"),
        ((-1, 0), "errors <= requests"),
        ((2, 0, (1.0, 2.0, 3.0)), "3 latencies for 2 requests"),
        ((2, 0, (1.0, float("nan"))), "finite"),
        ((2.0, 0), "requests must be an int"),
    ],
)
def test_sample_validation(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        VersionSample(*args)


def test_bad_observation_changes_nothing() -> None:
    analyzer = CanaryAnalyzer()
    analyzer.observe(VersionSample(100, 1), VersionSample(10, 0))
    with pytest.raises(ValueError, match="two VersionSample"):
        analyzer.observe(VersionSample(100, 1), {"requests": 10})  # type: ignore[arg-type]
    d = analyzer.observe(VersionSample(0, 0), VersionSample(0, 0))
    assert d.evidence["canary_requests"] == 10 and d.evidence["baseline_requests"] == 100


@pytest.mark.parametrize(("n", "p"), [(200, 0.5), (400, 0.25), (200, 0.05), (37, 0.9), (1, 0.5)])
def test_binomial_upper_is_the_exact_tail_quantile(n: int, p: float) -> None:
    def above(k: int) -> float:  # P(X > k), summed with exact integers' binomial coefficients
        return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1, n + 1))

    alpha = 1e-6
    k = binomial_upper(n, p, alpha)
    assert above(k) < alpha
    assert k == 0 or above(k - 1) >= alpha


def test_binomial_upper_at_the_edges() -> None:
    assert binomial_upper(0, 0.5, 1e-6) == 0
    assert binomial_upper(100, 0.0, 1e-6) == 0
    assert binomial_upper(100, 1.0, 1e-6) == 100
