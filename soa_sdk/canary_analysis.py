"""Sequential canary analysis: compare a canary with its baseline and decide what to do next.

Step 3 of the lab ships a new version behind a Consul service-splitter with progressive
weights (5, 25, 50, 100). After every batch of mesh telemetry the release code calls
:meth:`CanaryAnalyzer.observe` with the *increments* seen for the baseline and the canary, and
gets a :class:`Decision`: ``"continue"`` (go to the next weight), ``"hold"`` (keep collecting)
or ``"rollback"``. This module is pure statistics: it knows nothing about Consul or HTTP.

Method
======
Both tests are *anytime-valid*: they may be checked after every batch, for as long as the
release lasts and whatever the weights are, without inflating the false-rollback rate. The
evidence is cumulative over the whole release (the canary is the same build at every
weight); :meth:`CanaryAnalyzer.reset_step` only restarts the per-step request count used by
the promotion rule, :meth:`CanaryAnalyzer.reset` starts a new release.

Errors: a sequential generalised likelihood-ratio test ("universal inference" e-process).
    Each request of version v fails independently with probability p_v (Bernoulli). Let
    ``tol = error_tolerance`` and ``mde = error_mde`` (absolute rates, 0.005 = 0.5 point).

    * Rollback tests H0: p_canary <= p_baseline + tol against H1: p_canary > p_baseline + tol.
      The e-value is E = m(canary data) * m(baseline data) / sup_{H0} L(p_canary, p_baseline),
      where m is the marginal likelihood under a Beta mixture (Robbins 1970) and the
      denominator is the likelihood maximised over the null set (the baseline's rate is a
      nuisance: it is fitted, not assumed). Roll back when E >= 1/alpha_errors.
      Guarantee (Wasserman, Ramdas and Balakrishnan 2020, section 7; Ville's inequality):
      if H0 holds, P(ever roll back on errors) <= alpha_errors, over any number of looks.
      The baseline's own uncertainty is accounted for; no normal approximation is made.
    * Promotion tests the mirror hypothesis H1': p_canary >= p_baseline + mde with the same
      construction. When its e-value reaches 1/beta the data exclude a regression of ``mde``
      or more, which is Wald's "accept H0". Guarantee: a canary whose error rate exceeds the
      baseline's by ``mde`` or more reaches that point with probability <= beta, so the
      power of the release against such a regression is at least 1 - beta.

Latency: a Wald SPRT on "slow" requests, with a threshold the baseline sets.
    The threshold t is a *conservative* estimate of the baseline's ``latency_quantile``
    (p95): the lowest baseline latency such that a Beta-mixture confidence sequence
    (Howard et al. 2021) for the fraction of baseline requests above it excludes
    1 - latency_quantile. With probability >= 1 - alpha_latency/2, at every time, at most 5%
    of baseline requests are slower than t. Each canary request is "slow" when its latency
    exceeds t; the SPRT (Wald 1945) tests H0: P(slow) <= 0.05 + latency_tolerance against
    H1: P(slow) >= 0.05 + latency_mde. It rolls back when the log-likelihood ratio reaches
    log(2/alpha_latency) (Ville's bound, slightly stricter than Wald's log((1-beta)/alpha)),
    and accepts H0 at Wald's log(beta/(1-alpha)). A canary whose latency distribution is
    the baseline's is rolled back with probability <= alpha_latency. A slowdown of every
    request (p50 and p99 both x2) makes most canary requests slow and is caught within a
    few dozen requests; a regression confined to the slowest few percent of requests is
    not what this test looks for.

    Warm-up: the latencies of a batch that begins within the canary's first
    ``latency_warmup_requests`` requests are not judged (its errors are). A new build's first
    requests pay for its cold start: the mesh opens new mTLS connections to it, caches fill,
    and the testers' step sends them as one burst, not in the users' mix. Comparing them with
    a warm baseline tests the start, not the build (Spinnaker's canary analysis has the same
    warm-up, ``beginCanaryAnalysisAfterMins``; Argo Rollouts' ``initialDelay``). A batch is
    skipped whole because a histogram's window has no order inside it.

Decision rule (after each batch)
    1. rollback if the canary has served ``min_requests_for_rollback`` requests and either
       test rejects its H0 (sticky: later calls repeat it until :meth:`reset`);
    2. continue if the canary served ``min_requests_per_step`` requests at the current
       weight, the errors promotion test excludes a regression of ``mde``, and the latency
       SPRT has accepted H0 (when ``check_latency``);
    3. hold otherwise.

Overall: if the canary is no worse than the baseline (within the tolerances), the probability
of a rollback during the whole release is at most alpha_errors + alpha_latency. At a canary as
good as the baseline it is much lower (see ``benchmarks/canary_analysis.py``).

Assumptions and what is not implemented
    Requests are independent and each version's error rate and latency distribution stay
    the same through the release; latencies are continuous. A regression that appears only
    at a higher weight (load-dependent) is still detected, but evidence gathered at earlier
    weights slows its detection. There is no seasonality or multi-metric correction beyond
    the union bound above, and no per-endpoint breakdown.

References
    Wald, A. (1945) Sequential tests of statistical hypotheses. Ann. Math. Statist. 16.
    Robbins, H. (1970) Statistical methods related to the law of the iterated logarithm.
    Wasserman, L., Ramdas, A., Balakrishnan, S. (2020) Universal inference. PNAS 117.
    Howard, S., Ramdas, A., McAuliffe, J., Sekhon, J. (2021) Time-uniform, nonparametric,
    nonasymptotic confidence sequences. Ann. Statist. 49.
    Johari, R., Koomen, P., Pekelis, L., Walsh, D. (2017) Peeking at A/B tests. KDD.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Literal

Verdict = Literal["continue", "hold", "rollback"]

# Beta mixtures of the numerators. They only steer power (validity holds for any prior):
# baselines around 0.5% errors, and for the rollback test canaries a few points worse.
_PRIOR_BASELINE = (1.0, 199.0)
_PRIOR_CANARY_REGRESSED = (2.0, 30.0)
_PRIOR_CANARY_HEALTHY = (1.0, 199.0)


@dataclass(frozen=True)
class AnalysisConfig:
    """Parameters of the analysis; every rate is absolute (0.005 means 0.5 percentage point).

    error_tolerance: excess error rate over the baseline still counted as healthy.
    error_mde: minimum detectable effect, the excess error rate the release must not pass.
    alpha_errors: bound on the probability of a rollback on errors when the canary is healthy.
    beta: bound on the probability of promoting a canary that regressed by ``error_mde``
        (power 1 - beta); also Wald's beta for the latency SPRT's acceptance boundary.
    latency_quantile: baseline quantile that defines a slow request (0.95: the p95).
    latency_tolerance: extra fraction of slow canary requests still counted as healthy.
    latency_mde: extra fraction of slow canary requests that is a regression.
    alpha_latency: bound on the probability of a rollback on latency when the canary is
        healthy (half for the baseline threshold, half for the SPRT).
    min_requests_for_rollback: canary requests before any rollback (a floor, the tests
        are already valid without it).
    min_requests_per_step: canary requests at the current weight before continuing.
    latency_warmup_requests: the canary's first requests, whose latencies are not judged
        (its cold start; see the module's "Warm-up").
    check_latency: set False when the telemetry carries no latencies.
    """

    error_tolerance: float = 0.005
    error_mde: float = 0.04
    alpha_errors: float = 0.05
    beta: float = 0.2
    latency_quantile: float = 0.95
    latency_tolerance: float = 0.05
    latency_mde: float = 0.20
    alpha_latency: float = 0.01
    min_requests_for_rollback: int = 20
    min_requests_per_step: int = 50
    latency_warmup_requests: int = 20
    check_latency: bool = True

    def __post_init__(self) -> None:
        for name in ("alpha_errors", "beta", "alpha_latency", "latency_quantile"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ValueError(f"AnalysisConfig.{name} must be in (0, 1), got {value!r}")
        if not 0.0 <= self.error_tolerance < self.error_mde < 1.0:
            raise ValueError(
                "AnalysisConfig needs 0 <= error_tolerance < error_mde < 1, got "
                f"error_tolerance={self.error_tolerance!r}, error_mde={self.error_mde!r}"
            )
        slow = 1.0 - self.latency_quantile
        if not 0.0 <= self.latency_tolerance < self.latency_mde < 1.0 - slow:
            raise ValueError(
                "AnalysisConfig needs 0 <= latency_tolerance < latency_mde < latency_quantile, "
                f"got latency_tolerance={self.latency_tolerance!r}, "
                f"latency_mde={self.latency_mde!r}"
            )
        for name in (
            "min_requests_for_rollback",
            "min_requests_per_step",
            "latency_warmup_requests",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"AnalysisConfig.{name} must be an int >= 0, got {value!r}")


@dataclass(frozen=True)
class VersionSample:
    """What one version served since the previous observation (an increment, not a total)."""

    requests: int
    errors: int
    latencies_ms: tuple[float, ...] = field(default=())

    def __post_init__(self) -> None:
        if isinstance(self.requests, bool) or not isinstance(self.requests, int):
            raise ValueError(f"VersionSample.requests must be an int, got {self.requests!r}")
        if isinstance(self.errors, bool) or not isinstance(self.errors, int):
            raise ValueError(f"VersionSample.errors must be an int, got {self.errors!r}")
        if not 0 <= self.errors <= self.requests:
            raise ValueError(
                f"VersionSample needs 0 <= errors <= requests, got errors={self.errors}, "
                f"requests={self.requests}"
            )
        latencies = tuple(float(x) for x in self.latencies_ms)
        if any(not math.isfinite(x) or x < 0.0 for x in latencies):
            raise ValueError("VersionSample.latencies_ms must be finite and >= 0")
        if len(latencies) > self.requests:
            raise ValueError(
                f"VersionSample has {len(latencies)} latencies for {self.requests} requests"
            )
        object.__setattr__(self, "latencies_ms", latencies)


@dataclass(frozen=True)
class Decision:
    """A verdict, one sentence saying why, and the statistics it rests on."""

    verdict: Verdict
    reason: str
    evidence: dict[str, float | int | None]


# --- likelihood helpers -------------------------------------------------------------------


def _loglik(successes: int, failures: int, p: float) -> float:
    """Bernoulli log-likelihood of ``successes`` ones and ``failures`` zeros at rate p."""
    out = 0.0
    if successes:
        out += successes * math.log(p) if p > 0.0 else -math.inf
    if failures:
        out += failures * math.log1p(-p) if p < 1.0 else -math.inf
    return out


def _log_marginal(successes: int, failures: int, prior: tuple[float, float]) -> float:
    """log of the Beta(a, b) mixture of Bernoulli likelihoods: B(a+s, b+f) / B(a, b)."""
    a, b = prior

    def lbeta(x: float, y: float) -> float:
        return math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y)

    return lbeta(a + successes, b + failures) - lbeta(a, b)


def _max_loglik_on_line(sc: int, fc: int, sb: int, fb: int, margin: float) -> float:
    """max over q of L_canary(q + margin) * L_baseline(q), in logs (concave in q)."""
    lo, hi = max(0.0, -margin), min(1.0, 1.0 - margin)

    def slope(q: float) -> float:
        pc = q + margin
        s = 0.0
        s += sc / pc if sc else 0.0
        s -= fc / (1.0 - pc) if fc else 0.0
        s += sb / q if sb else 0.0
        s -= fb / (1.0 - q) if fb else 0.0
        return s

    def value(q: float) -> float:
        return _loglik(sc, fc, q + margin) + _loglik(sb, fb, q)

    # Bisection on the derivative inside the open interval (a log may blow up at the ends);
    # concavity makes the best of that point and the two ends the maximum.
    eps = 1e-12
    a, b = lo + eps, hi - eps
    for _ in range(100):
        mid = 0.5 * (a + b)
        if slope(mid) > 0.0:
            a = mid
        else:
            b = mid
    return max(value(lo), value(hi), value(0.5 * (a + b)))


def _max_loglik(sc: int, fc: int, sb: int, fb: int, margin: float, side: str) -> float:
    """sup of the joint log-likelihood over {p_c - p_b <= margin} ("le") or ">=" ("ge")."""
    pc = sc / (sc + fc) if sc + fc else None
    pb = sb / (sb + fb) if sb + fb else None
    free_c = pc if pc is not None else (0.0 if side == "le" else 1.0)
    free_b = pb if pb is not None else (1.0 if side == "le" else 0.0)
    diff = free_c - free_b
    inside = diff <= margin if side == "le" else diff >= margin
    if inside:
        return _loglik(sc, fc, free_c) + _loglik(sb, fb, free_b)
    # Concave objective, convex set: the constrained maximum lies on the boundary line.
    return _max_loglik_on_line(sc, fc, sb, fb, margin)


def log_evalue_difference(
    canary_errors: int,
    canary_requests: int,
    baseline_errors: int,
    baseline_requests: int,
    margin: float,
    side: Literal["le", "ge"],
    canary_prior: tuple[float, float],
    baseline_prior: tuple[float, float] = _PRIOR_BASELINE,
) -> float:
    """log e-value against H0: p_canary - p_baseline <= margin ("le") or >= margin ("ge").

    Universal inference: Beta-mixture marginal likelihoods over the likelihood maximised
    under H0. Under H0 the running value exceeds log(1/a) with probability <= a, ever.
    """
    sc, fc = canary_errors, canary_requests - canary_errors
    sb, fb = baseline_errors, baseline_requests - baseline_errors
    numerator = _log_marginal(sc, fc, canary_prior) + _log_marginal(sb, fb, baseline_prior)
    return numerator - _max_loglik(sc, fc, sb, fb, margin, side)


def _log_mixture_vs(count: int, n: int, q: float, prior: tuple[float, float]) -> float:
    """log of Robbins' Beta-mixture martingale for ``count`` ones in n, against rate q."""
    return _log_marginal(count, n - count, prior) - _loglik(count, n - count, q)


def conservative_upper_quantile(
    sorted_values: list[float], tail: float, alpha: float
) -> float | None:
    """A value t with P(X > t) <= ``tail`` at every sample size, with prob. >= 1 - alpha.

    ``sorted_values`` ascending. Takes the largest count K of samples above t such that the
    Beta-mixture confidence sequence for P(X > t) excludes ``tail`` from the left; None
    while there are too few samples for that.
    """
    n = len(sorted_values)
    if n == 0:
        return None
    prior = (1.0, (1.0 - tail) / tail)
    bound = math.log(1.0 / alpha)

    def rejects(k: int) -> bool:
        return k < n * tail and _log_mixture_vs(k, n, tail, prior) >= bound

    # The statistic is convex in k: keep to its decreasing branch, then bisect on it.
    hi = min(n - 1, math.floor(n * tail))
    while hi > 0 and _log_mixture_vs(hi, n, tail, prior) >= _log_mixture_vs(hi - 1, n, tail, prior):
        hi -= 1
    if not rejects(0):
        return None
    lo = 0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if rejects(mid):
            lo = mid
        else:
            hi = mid - 1
    return sorted_values[n - 1 - lo]


def binomial_upper(n: int, p: float, alpha: float) -> int:
    """The smallest count k with P(X > k) < ``alpha`` for X ~ binomial(n, p): the most
    successes a correct rate ``p`` gives in ``n`` trials but with probability below alpha.
    Exact (the tail summed from the top in log space), for the n of a canary's step."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    log_p, log_q = math.log(p), math.log1p(-p)
    tail = 0.0
    for k in range(n, -1, -1):
        log_pmf = (
            math.lgamma(n + 1)
            - math.lgamma(k + 1)
            - math.lgamma(n - k + 1)
            + k * log_p
            + (n - k) * log_q
        )
        if tail + math.exp(log_pmf) >= alpha:
            return k  # P(X > k) = tail < alpha, and P(X > k - 1) >= alpha
        tail += math.exp(log_pmf)
    return 0


# --- the analyzer -------------------------------------------------------------------------


class CanaryAnalyzer:
    """Feeds on batches of baseline/canary telemetry and returns a :class:`Decision` each time.

    Stateful and not thread-safe; one analyzer per release.
    """

    def __init__(self, config: AnalysisConfig | None = None) -> None:
        self.config = config or AnalysisConfig()
        self.reset()

    def reset(self) -> None:
        """Forget everything: a new release starts."""
        self._canary_requests = self._canary_errors = 0
        self._baseline_requests = self._baseline_errors = 0
        self._baseline_latencies: list[float] = []
        self._canary_latencies: list[float] = []
        self._slow = self._judged = 0
        self._latency_llr = 0.0
        self._step = 0
        self._step_requests = 0
        self._rolled_back: Decision | None = None

    def reset_step(self) -> None:
        """The weight changed: restart the per-step request count (evidence is kept)."""
        self._step += 1
        self._step_requests = 0

    def observe(self, baseline: VersionSample, canary: VersionSample) -> Decision:
        """Add one batch of increments and decide."""
        if not isinstance(baseline, VersionSample) or not isinstance(canary, VersionSample):
            raise ValueError("observe() takes two VersionSample objects (baseline, canary)")
        if self._rolled_back is not None:
            return self._rolled_back
        cfg = self.config
        warming = self._canary_requests < cfg.latency_warmup_requests
        self._baseline_requests += baseline.requests
        self._baseline_errors += baseline.errors
        self._canary_requests += canary.requests
        self._canary_errors += canary.errors
        self._step_requests += canary.requests

        threshold = None
        if cfg.check_latency:
            for x in baseline.latencies_ms:
                bisect.insort(self._baseline_latencies, x)
            for x in canary.latencies_ms:
                bisect.insort(self._canary_latencies, x)
            threshold = self._update_latency(() if warming else canary.latencies_ms)

        ev = self._evidence(threshold)
        decision = self._decide(ev)
        if decision.verdict == "rollback":
            self._rolled_back = decision
        return decision

    # -- internals

    def _latency_bounds(self) -> tuple[float, float, float, float]:
        """(p0, p1, log upper boundary, log lower boundary) of the latency SPRT."""
        cfg = self.config
        base = 1.0 - cfg.latency_quantile
        a = cfg.alpha_latency / 2.0
        return (
            base + cfg.latency_tolerance,
            base + cfg.latency_mde,
            math.log(1.0 / a),
            math.log(cfg.beta / (1.0 - a)),
        )

    def _update_latency(self, canary_latencies: tuple[float, ...]) -> float | None:
        cfg = self.config
        threshold = conservative_upper_quantile(
            self._baseline_latencies, 1.0 - cfg.latency_quantile, cfg.alpha_latency / 2.0
        )
        if threshold is None or not canary_latencies:
            return threshold
        p0, p1, _, _ = self._latency_bounds()
        slow = sum(1 for x in canary_latencies if x > threshold)
        fast = len(canary_latencies) - slow
        self._slow += slow
        self._judged += len(canary_latencies)
        self._latency_llr += slow * math.log(p1 / p0) + fast * math.log((1 - p1) / (1 - p0))
        return threshold

    def _evidence(self, threshold: float | None) -> dict[str, float | int | None]:
        cfg = self.config
        nc, xc = self._canary_requests, self._canary_errors
        nb, xb = self._baseline_requests, self._baseline_errors
        p0, p1, upper, lower = self._latency_bounds()
        return {
            "step": self._step,
            "step_canary_requests": self._step_requests,
            "canary_requests": nc,
            "canary_errors": xc,
            "canary_error_rate": xc / nc if nc else None,
            "baseline_requests": nb,
            "baseline_errors": xb,
            "baseline_error_rate": xb / nb if nb else None,
            "error_tolerance": cfg.error_tolerance,
            "error_mde": cfg.error_mde,
            "log_e_rollback": log_evalue_difference(
                xc, nc, xb, nb, cfg.error_tolerance, "le", _PRIOR_CANARY_REGRESSED
            ),
            "log_e_rollback_threshold": math.log(1.0 / cfg.alpha_errors),
            "log_e_promote": log_evalue_difference(
                xc, nc, xb, nb, cfg.error_mde, "ge", _PRIOR_CANARY_HEALTHY
            ),
            "log_e_promote_threshold": math.log(1.0 / cfg.beta),
            "latency_threshold_ms": threshold,
            "latency_warmup_requests": cfg.latency_warmup_requests,
            "canary_latency_samples": self._judged,
            "canary_slow_requests": self._slow,
            "canary_slow_fraction": self._slow / self._judged if self._judged else None,
            "latency_slow_h0": p0,
            "latency_slow_h1": p1,
            "latency_llr": self._latency_llr,
            "latency_llr_rollback": upper,
            "latency_llr_accept": lower,
            "baseline_p99_ms": _quantile(self._baseline_latencies, 0.99),
            "canary_p99_ms": _quantile(self._canary_latencies, 0.99),
        }

    def _decide(self, ev: dict[str, float | int | None]) -> Decision:
        cfg = self.config
        nc = self._canary_requests
        if nc >= cfg.min_requests_for_rollback:
            if ev["log_e_rollback"] >= ev["log_e_rollback_threshold"]:
                return Decision(
                    "rollback",
                    f"Canary error rate {self._canary_errors}/{nc} exceeds the baseline's "
                    f"{self._baseline_errors}/{self._baseline_requests} by more than "
                    f"{cfg.error_tolerance:.2%} (e-value {math.exp(ev['log_e_rollback']):.0f} "
                    f">= {1 / cfg.alpha_errors:.0f}).",
                    ev,
                )
            if cfg.check_latency and self._latency_llr >= ev["latency_llr_rollback"]:
                return Decision(
                    "rollback",
                    f"Canary is slower: {self._slow}/{self._judged} requests took longer than "
                    f"the baseline's p{cfg.latency_quantile * 100:g} "
                    f"({ev['latency_threshold_ms']:.1f} ms), more than "
                    f"{ev['latency_slow_h0']:.0%} tolerated (SPRT).",
                    ev,
                )
        missing = cfg.min_requests_per_step - self._step_requests
        if missing > 0:
            return Decision(
                "hold", f"Waiting for {missing} more canary requests at this weight.", ev
            )
        if ev["log_e_promote"] < ev["log_e_promote_threshold"]:
            return Decision(
                "hold",
                f"Not enough evidence yet that the canary's error rate is less than "
                f"{cfg.error_mde:.1%} above the baseline's.",
                ev,
            )
        if cfg.check_latency:
            if ev["latency_threshold_ms"] is None:
                return Decision(
                    "hold", "Too few baseline latencies yet to set the slow threshold.", ev
                )
            if self._latency_llr > ev["latency_llr_accept"]:
                return Decision(
                    "hold", "Not enough evidence yet that the canary is not slower.", ev
                )
        return Decision(
            "continue",
            f"No regression: {self._step_requests} canary requests at this weight and the "
            f"data exclude an error regression of {cfg.error_mde:.1%}"
            + (" and a latency regression." if cfg.check_latency else "."),
            ev,
        )


def _quantile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank quantile of an ascending list (informational only)."""
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[k]
