"""Validation's choices: per budget, each arm's generated share and confidence threshold, and
classical augmentation's recipe.

A sweep scores every candidate option (ratio and threshold; or recipe) of every arm on the
validation split at every budget; an arm keeps, at each budget, the option with the best mean
validation accuracy over seeds. The test set plays no part. An arm is named by its row name in
its mixing mode ('cgan', 'cgan@add'), so each mode gets its own choice; classical's recipe is
kept under 'classical', and every '+classical' arm of that budget uses it.
"""

from __future__ import annotations

from genaug.experiment.settings import ExperimentConfig, Option, parse_method

Choices = dict[int, dict[str, float]]  # per budget, per arm: one field of its chosen Option


def needs_sweep(config: ExperimentConfig) -> bool:
    """Whether validation has a choice to make: some arm with several options."""
    return any(len(options) > 1 for options in config.candidates().values())


def chosen_settings(config: ExperimentConfig, sweep: list[dict]
                    ) -> tuple[Choices, Choices, dict[int, dict[str, str]]]:
    """Per budget, each arm's ratio, threshold and classical recipe: its validation's choice,
    or the only candidate."""
    chosen = _best_settings(sweep)
    only = {key: options[0] for key, options in config.candidates().items()
            if len(options) == 1}
    for budget in config.budgets:
        chosen.setdefault(budget, {}).update(
            {arm: option for key, option in only.items() for arm in config.arm_labels(key)})
    return _by_field(chosen)


def by_budget(chosen: dict, budgets: tuple[int, ...]) -> dict[int, dict[str, float]]:
    """``config.json``'s choices per budget; a folder from before per-budget sweeps holds one
    choice, made at the smallest budget and used at every budget, so each budget gets it."""
    if all(isinstance(v, dict) for v in chosen.values()) and chosen:
        return {int(b): v for b, v in chosen.items()}
    return {b: dict(chosen) for b in budgets}


def _option(row: dict) -> Option:
    """The option a sweep row was trained with (a CSV's empty cell: none)."""
    def given(key: str) -> str | None:
        return None if row.get(key) in ("", None) else row[key]

    source = parse_method(row["method"]).source
    threshold, recipe = given("threshold"), given("classical_recipe")
    return Option(float(row["ratio"]) if source else None,
                  None if threshold is None else float(threshold), recipe)


def _best_settings(sweep: list[dict]) -> dict[int, dict[str, Option]]:
    """Per budget, each arm's option with the best mean validation accuracy (an arm: its row
    name, 'cgan', 'cgan@add' or 'classical'; 'none' has nothing to choose)."""
    scores: dict[tuple, dict[Option, list[float]]] = {}
    for row in sweep:
        parsed = parse_method(row["method"])
        if parsed.source is None and not parsed.classical:
            continue
        arm = scores.setdefault((row["budget"], row["method"]), {})
        arm.setdefault(_option(row), []).append(float(row["val_accuracy"]))
    chosen: dict[int, dict[str, Option]] = {}
    for (budget, arm), by_option in scores.items():
        best = max(by_option, key=lambda o: sum(by_option[o]) / len(by_option[o]))
        chosen.setdefault(budget, {})[arm] = best
    return chosen


def _by_field(chosen: dict[int, dict[str, Option]]) -> tuple[Choices, Choices, dict]:
    """The chosen options split into ratios, thresholds and recipes per budget, each holding
    the arms whose option sets it."""
    return tuple({b: {arm: option[i] for arm, option in arms.items() if option[i] is not None}
                  for b, arms in chosen.items()} for i in range(len(Option._fields)))


def choose_ratios(sweep: list[dict]) -> Choices:
    """Per budget, each arm's generated share of its best setting on validation."""
    return _by_field(_best_settings(sweep))[0]


def choose_thresholds(sweep: list[dict]) -> Choices:
    """Per budget, each filtered arm's (and pseudo-labels') confidence threshold."""
    return _by_field(_best_settings(sweep))[1]


def choose_recipes(sweep: list[dict]) -> dict[int, dict[str, str]]:
    """Per budget, classical augmentation's recipe with the best validation accuracy."""
    return _by_field(_best_settings(sweep))[2]
