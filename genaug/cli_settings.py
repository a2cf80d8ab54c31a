"""``--set NAME=VALUE``: one ExperimentConfig setting from the command line, of the right type.

Numbers, booleans and words as themselves; a tuple setting (``imbalance_minority``, ``ratios``,
``thresholds``, ``classical_recipes``) as comma-separated items, e.g. ``--set
imbalance_minority=0,3`` or ``--set classical_recipes=shift+flip,flip``. Settings with
options of their own are refused with the option's name, and a setting given twice is refused.
"""

from __future__ import annotations

import dataclasses

from genaug.experiment import ExperimentConfig

# settings with options of their own, which --set refuses
OPTIONS_WITH_FLAGS = {"budgets": "--budgets", "methods": "--methods", "seeds": "--seeds",
                      "ratio": "--ratio", "ratios": "--ratios", "dataset": "--dataset",
                      "mode": "--quick", "data_root": "--data", "image_size": "--image-size"}


def _parse_bool(name: str, text: str) -> bool:
    words = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
    if text.lower() not in words:
        raise ValueError(f"--set {name} needs true or false, got {text!r}.")
    return words[text.lower()]


def _parse_number(name: str, text: str, kind: type, many: bool = False) -> int | float:
    try:
        return kind(text)
    except ValueError:
        what = "an int" if kind is int else "a float"
        if many:
            what = f"{'whole numbers' if kind is int else 'numbers'} separated by commas"
        raise ValueError(f"--set {name} needs {what}, got {text!r}.") from None


def _parse_value(name: str, text: str, default):
    """``text`` read as a value of ``default``'s type; a tuple from comma-separated items."""
    if isinstance(default, tuple):  # e.g. imbalance_minority=0,3 or ratios=0.25,0.5
        return tuple(_parse_number(name, part.strip(), type(default[0]), many=True)
                     for part in text.split(","))
    if isinstance(default, bool):
        return _parse_bool(name, text)
    return text if isinstance(default, str) else _parse_number(name, text, type(default))


def settings_from(pairs: list[str], given: dict) -> dict:
    """``["classifier_steps=600", ...]`` as ExperimentConfig overrides of the right types."""
    defaults = {f.name: f.default for f in dataclasses.fields(ExperimentConfig)}
    settable = sorted(k for k, v in defaults.items() if k not in OPTIONS_WITH_FLAGS and
                      (isinstance(v, (bool, int, float, str)) or (isinstance(v, tuple) and v)))
    settings: dict = {}
    for pair in pairs:
        name, _, text = pair.partition("=")
        if name in OPTIONS_WITH_FLAGS:
            raise ValueError(f"--set {name}: use the option {OPTIONS_WITH_FLAGS[name]} instead.")
        if not text or name not in settable:
            raise ValueError(f"--set takes NAME=VALUE with NAME one of {', '.join(settable)}; "
                             f"got {pair!r}.")
        if name in settings or name in given:
            raise ValueError(f"{name} is set twice; give it once.")
        settings[name] = _parse_value(name, text, defaults[name])
    return settings
