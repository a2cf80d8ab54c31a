"""Validation's choices: per budget, each arm's generated share and confidence threshold.

A sweep scores every candidate (ratio, threshold) of every arm on the validation split at every
budget; an arm keeps, at each budget, the candidate with the best mean validation accuracy over
seeds. The test set plays no part. An arm is named by its row name in its mixing mode
('cgan', 'cgan@add'), so each mode gets its own choice.
"""

from __future__ import annotations

from genaug.experiment.settings import ExperimentConfig, arm_label, parse_method


def needs_sweep(config: ExperimentConfig) -> bool:
    """Whether validation has a choice to make: some arm with several ratios or thresholds."""
    return any(len(pairs) > 1 for pairs in config.candidates().values())


def chosen_settings(config: ExperimentConfig, sweep: list[dict]
                    ) -> tuple[dict[int, dict[str, float]], dict[int, dict[str, float]]]:
    """Per budget, each arm's ratio and threshold: its validation's choice, or the only
    candidate."""
    chosen_ratios, chosen_thresholds = choose_ratios(sweep), choose_thresholds(sweep)
    only = {s: pairs[0] for s, pairs in config.candidates().items() if len(pairs) == 1}
    for budget in config.budgets:
        ratios = chosen_ratios.setdefault(budget, {})
        thresholds = chosen_thresholds.setdefault(budget, {})
        for source, (ratio, threshold) in only.items():
            for arm in (arm_label(source, mode) for mode in config.mixings()):
                ratios[arm] = ratio
                if threshold is not None:
                    thresholds[arm] = threshold
    return chosen_ratios, chosen_thresholds


def by_budget(chosen: dict, budgets: tuple[int, ...]) -> dict[int, dict[str, float]]:
    """``config.json``'s choices per budget; a folder from before per-budget sweeps holds one
    choice, made at the smallest budget and used at every budget, so each budget gets it."""
    if all(isinstance(v, dict) for v in chosen.values()) and chosen:
        return {int(b): v for b, v in chosen.items()}
    return {b: dict(chosen) for b in budgets}


def _best_settings(sweep: list[dict]) -> dict[int, dict[str, tuple[float, float | None]]]:
    """Per budget, each arm's (ratio, threshold) pair with the best mean validation accuracy
    (an arm: its row name, 'cgan' or 'cgan@add')."""
    scores: dict[tuple, dict[tuple, list[float]]] = {}
    for row in sweep:
        if parse_method(row["method"]).source is None:
            continue
        threshold = row.get("threshold", "")
        key = (float(row["ratio"]), None if threshold in ("", None) else float(threshold))
        arm = scores.setdefault((row["budget"], row["method"]), {})
        arm.setdefault(key, []).append(float(row["val_accuracy"]))
    chosen: dict[int, dict] = {}
    for (budget, arm), by_key in scores.items():
        best = max(by_key, key=lambda k: sum(by_key[k]) / len(by_key[k]))
        chosen.setdefault(budget, {})[arm] = best
    return chosen


def choose_ratios(sweep: list[dict]) -> dict[int, dict[str, float]]:
    """Per budget, each arm's generated share of its best setting on validation."""
    return {b: {a: ratio for a, (ratio, _) in arms.items()}
            for b, arms in _best_settings(sweep).items()}


def choose_thresholds(sweep: list[dict]) -> dict[int, dict[str, float]]:
    """Per budget, each filtered arm's (and pseudo-labels') confidence threshold."""
    return {b: {a: t for a, (_, t) in arms.items() if t is not None}
            for b, arms in _best_settings(sweep).items()}
