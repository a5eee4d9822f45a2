"""Length-controlled win rate (the AlpacaEval 2 idea, Dubois et al. 2024, reduced to one prompt set).

Per prompt i: the verdict y_i in {0, 0.5, 1} and d_i = words(model_i) - words(baseline_i) (whitespace
words, so any engine's responses are measured alike). x_i = tanh(d_i / s), s the population std of the d_i,
NOT centred (x = 0 means equal lengths), and

    P(win_i) = sigmoid(a + b * x_i),   LC win rate = sigmoid(a)   (the prediction at equal lengths),

fitted by maximum likelihood with ties as fractional targets (concave for y in [0, 1]), by Newton's method
with step halving, batched over bootstrap resamples. Degenerate cases are flagged, never NaN:
- `all_same_verdict`: all wins or all losses put the MLE at infinity (LC = raw is its limit); all ties: 0.5;
- `zero_length_spread` (s = 0): x is constant, collinear with the intercept; LC = raw;
- `separable`: the length difference separates win mass from loss mass (exact in one dimension), so no
  MLE exists: LC is None, as it is when Newton's method does not converge (`not_converged`)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from plot_eval.aggregation.stats import percentile_interval

_MAX_ITER = 100
_FLAGS = ("all_same_verdict", "zero_length_spread", "separable", "not_converged")  # the first that holds
_TOL = 1e-10


def word_count(text: str) -> int:
    return len(text.split())


def length_feature(
    model_lengths: Sequence[int], baseline_lengths: Sequence[int]
) -> tuple[torch.Tensor, float]:
    """x = tanh(d / std(d)) (n,) in fp64 and std(d); x = 0 everywhere when std(d) = 0."""
    diff = torch.tensor(model_lengths, dtype=torch.float64) - torch.tensor(
        baseline_lengths, dtype=torch.float64
    )
    scale = float(diff.std(correction=0)) if len(diff) else 0.0
    return (torch.tanh(diff / scale) if scale > 0 else torch.zeros_like(diff)), scale


def separable(features: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(R,) bool: whether x (R, n) separates the win mass (y > 0) from the loss mass (y < 1), quasi-completely
    (ties at the boundary allowed). Rows whose targets are all equal are not counted here."""
    inf = torch.tensor(float("inf"), dtype=features.dtype)
    win, loss = targets > 0, targets < 1
    win_min = torch.where(win, features, inf).amin(dim=1)
    win_max = torch.where(win, features, -inf).amax(dim=1)
    loss_min = torch.where(loss, features, inf).amin(dim=1)
    loss_max = torch.where(loss, features, -inf).amax(dim=1)
    return (loss_max <= win_min) | (win_max <= loss_min)


def _log_likelihood(intercept, slope, features, targets) -> torch.Tensor:
    logits = intercept[:, None] + slope[:, None] * features  # (R, n)
    return (
        targets * torch.nn.functional.logsigmoid(logits)
        + (1 - targets) * torch.nn.functional.logsigmoid(-logits)
    ).sum(dim=1)


def fit_logistic(
    features: torch.Tensor, targets: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Newton MLE of sigmoid(a + b x) for each row of x, y (R, n) fp64 -> (a, b, converged), each (R,).

    Rows must have a finite MLE (not separable, x not constant); other rows come back with converged False.
    """
    intercept = torch.zeros(features.shape[0], dtype=torch.float64)
    slope = torch.zeros_like(intercept)
    converged = torch.zeros_like(intercept, dtype=torch.bool)
    current = _log_likelihood(intercept, slope, features, targets)
    for _ in range(_MAX_ITER):
        p = torch.sigmoid(intercept[:, None] + slope[:, None] * features)
        residual, weight = targets - p, p * (1 - p)  # (R, n)
        g_a, g_b = residual.sum(1), (residual * features).sum(1)  # gradient
        h_aa, h_ab, h_bb = weight.sum(1), (weight * features).sum(1), (weight * features**2).sum(1)
        converged = (g_a.abs() + g_b.abs()) < _TOL * features.shape[1]
        if bool(converged.all()):
            break
        det = (h_aa * h_bb - h_ab**2).clamp_min(1e-300)
        step_a, step_b = (h_bb * g_a - h_ab * g_b) / det, (h_aa * g_b - h_ab * g_a) / det
        step = torch.where(converged, 0.0, 1.0).to(torch.float64)
        for _ in range(40):  # step halving where the likelihood would drop (Newton overshoot)
            trial = _log_likelihood(intercept + step * step_a, slope + step * step_b, features, targets)
            worse = ~(trial >= current - 1e-12)  # NaN counts as worse
            if not bool(worse.any()):
                break
            step = torch.where(worse, step / 2, step)
        intercept, slope = intercept + step * step_a, slope + step * step_b
        current = _log_likelihood(intercept, slope, features, targets)
    return intercept, slope, converged


def lc_winrates(features: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, list[str | None]]:
    """LC win rate per row of x, y (R, n) -> (values (R,), flag per row). A value is NaN exactly where its
    flag is "separable" or "not_converged" (callers report those as undefined, with the flag)."""
    raw = targets.mean(dim=1)
    same = (targets == targets[:, :1]).all(dim=1)  # nothing for the length to explain: LC = raw
    flat = (features == 0).all(dim=1) & ~same  # equal lengths everywhere: nothing to control for
    split = separable(features, targets) & ~same & ~flat
    regular = ~(same | flat | split)
    values = torch.where(same | flat, raw, torch.nan)
    converged = torch.zeros_like(same)
    if bool(regular.any()):
        intercept, _, fitted = fit_logistic(features[regular], targets[regular])
        values[regular] = torch.where(fitted, torch.sigmoid(intercept), torch.nan)
        converged[regular] = fitted
    conditions = torch.stack([same, flat, split, ~converged], dim=1).tolist()  # (R, 4)
    flags = [next((flag for flag, hit in zip(_FLAGS, row, strict=True) if hit), None) for row in conditions]
    return values, flags


def length_controlled_winrate(
    wins: Sequence[float],
    model_lengths: Sequence[int],
    baseline_lengths: Sequence[int],
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict:
    """LC win rate of valid wins (n,) with response lengths (n,) in words, plus a percentile-bootstrap CI.

    Returns {mean, ci_low, ci_high, n, flag, undefined_resamples, lengths: {unit, model_mean, baseline_mean,
    diff_std}}. `mean` (and the CI) are None when the flag is "separable" / "not_converged". The bootstrap
    resamples prompts (verdict and feature together, the feature scaled by the full set's std), as
    `bootstrap_ci` does with the same seed; resamples whose fit is undefined are left out and counted.
    """
    if not len(wins) == len(model_lengths) == len(baseline_lengths):
        raise ValueError(
            f"wins, model_lengths, baseline_lengths: lengths differ ({len(wins)}, {len(model_lengths)}, "
            f"{len(baseline_lengths)})"
        )
    if not wins:
        raise ValueError("wins: need at least one valid verdict")
    features, scale = length_feature(model_lengths, baseline_lengths)
    targets = torch.tensor([float(w) for w in wins], dtype=torch.float64)
    if not bool(((targets >= 0) & (targets <= 1)).all()):
        raise ValueError("wins: every verdict must lie in [0, 1]")
    values, flags = lc_winrates(features[None], targets[None])
    out = {
        "n": len(wins),
        "flag": flags[0],
        "lengths": {
            "unit": "words",
            "model_mean": sum(model_lengths) / len(wins),
            "baseline_mean": sum(baseline_lengths) / len(wins),
            "diff_std": scale,
        },
    }
    if torch.isnan(values[0]):
        return {"mean": None, "ci_low": None, "ci_high": None, "undefined_resamples": None, **out}
    generator = torch.Generator().manual_seed(seed)
    indices = torch.randint(len(targets), (n_resamples, len(targets)), generator=generator)  # (R, n)
    resampled, _ = lc_winrates(features[indices], targets[indices])
    finite = resampled[~torch.isnan(resampled)]
    low, high = percentile_interval(finite, confidence) if len(finite) else (None, None)
    mean = float(values[0])
    if out["flag"] == "all_same_verdict":
        low = high = mean
    return {
        "mean": mean,
        "ci_low": low,
        "ci_high": high,
        "undefined_resamples": n_resamples - len(finite),
        **out,
    }
