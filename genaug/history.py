"""A training run's logged numbers, kept by name: what loss-curve plots and checkpoints read."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class History:
    """Values logged during training: ``history["loss"]`` is the list of logged losses."""

    steps: dict[str, list[int]] = field(default_factory=dict)
    values: dict[str, list[float]] = field(default_factory=dict)
    snapshots: dict[int, torch.Tensor] = field(default_factory=dict)  # step -> sample images

    def log(self, step: int, **values: float) -> None:
        """Record each named value at ``step``."""
        for name, value in values.items():
            self.steps.setdefault(name, []).append(int(step))
            self.values.setdefault(name, []).append(float(value))

    def __getitem__(self, name: str) -> list[float]:
        if name not in self.values:
            raise KeyError(f"Nothing was logged as {name!r}; logged: {sorted(self.values)}.")
        return self.values[name]

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def last(self, name: str) -> float:
        """The most recent value logged as ``name``."""
        return self[name][-1]

    def to_dict(self) -> dict:
        """Plain lists and dicts, so a checkpoint can hold it and load with weights_only."""
        return {"steps": self.steps, "values": self.values, "snapshots": self.snapshots}

    @classmethod
    def from_dict(cls, data: dict) -> History:
        return cls({k: list(v) for k, v in data["steps"].items()},
                   {k: list(v) for k, v in data["values"].items()},
                   dict(data.get("snapshots", {})))
