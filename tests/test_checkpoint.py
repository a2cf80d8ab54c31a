"""Checkpoints: exact round trips, atomic saves, weights-only loads, cached training, resume."""

import pathlib
from dataclasses import dataclass

import pytest
import torch
import torch.nn as nn

from genaug.checkpoint import (
    CheckpointMismatchError,
    cached,
    load_checkpoint,
    load_model,
    save_checkpoint,
    save_model,
)
from genaug.data import batches, load_dataset, stratified_subset
from genaug.models.classifier import ClassifierConfig, SmallCNN
from genaug.train import fit_classifier

SMALL = dict(width=8)


def make_model(seed: int, **config) -> SmallCNN:
    """A small classifier whose initial weights are fixed by ``seed``, in eval mode."""
    torch.manual_seed(seed)
    return SmallCNN(ClassifierConfig(**{**SMALL, **config})).eval()


@pytest.fixture(scope="module")
def subset():
    """100 digits (10 a class): enough for a few dozen training steps."""
    return stratified_subset(load_dataset("digits", "train"), 10, seed=0)


class Payload:
    """An object whose unpickling would create a file: what a malicious checkpoint could hide."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (self.marker,)


def test_round_trip_gives_identical_outputs(tmp_path):
    model, other = make_model(0), make_model(1)
    x = torch.rand(4, 1, 28, 28)
    assert not torch.allclose(model(x)[0], other(x)[0])
    save_model(model, tmp_path / "m.pt", note="hello", numbers=[1, 2])
    extra = load_model(other, tmp_path / "m.pt")
    assert torch.equal(model(x)[0], other(x)[0])
    assert extra == {"note": "hello", "numbers": [1, 2]}


def test_crash_mid_save_keeps_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "run.pt"
    save_checkpoint(path, {"step": 1})
    before = path.read_bytes()

    def crashing_save(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crashing_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"step": 2})
    assert path.read_bytes() == before
    assert load_checkpoint(path) == {"step": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]


def test_loading_into_another_config_names_the_field(tmp_path):
    save_model(make_model(0), tmp_path / "m.pt")
    with pytest.raises(CheckpointMismatchError, match="width: checkpoint 8, model 16"):
        load_model(make_model(0, width=16), tmp_path / "m.pt")


def test_loading_into_another_model_class_is_refused(tmp_path):
    @dataclass
    class OtherConfig:
        width: int = 8

    class Other(nn.Module):
        def __init__(self):
            super().__init__()
            self.config, self.layer = OtherConfig(), nn.Linear(2, 2)

    save_model(make_model(0), tmp_path / "m.pt")
    with pytest.raises(CheckpointMismatchError, match="holds a SmallCNN, not a Other"):
        load_model(Other(), tmp_path / "m.pt")


def test_garbage_and_missing_files(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointMismatchError, match="not a readable genaug checkpoint.*Delete"):
        load_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError, match="No checkpoint at"):
        load_checkpoint(tmp_path / "absent.pt")


def test_loading_never_runs_code_from_the_file(tmp_path):
    marker = tmp_path / "code-ran"
    torch.save({"model": Payload(marker)}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointMismatchError, match="not a readable genaug checkpoint"):
        load_checkpoint(tmp_path / "evil.pt")
    assert not marker.exists(), "unpickling ran code: the load did not use weights_only=True"


def test_cached_trains_once_then_loads(tmp_path, subset, capsys):
    calls = []

    def train(model):
        calls.append(1)
        return fit_classifier(model, subset, steps=10, batch_size=32, log_every=5)

    first = make_model(0)
    history = cached("clf", first, train, folder=tmp_path)
    assert len(calls) == 1 and (tmp_path / "clf.pt").is_file()
    second = make_model(1)
    again = cached("clf", second, train, folder=tmp_path)
    assert len(calls) == 1, "the second call should load, not train"
    assert "Loaded clf" in capsys.readouterr().out
    assert again.values == history.values and again.steps == history.steps
    x = torch.rand(3, 1, 8, 8)
    assert torch.equal(first.eval()(x)[0], second.eval()(x)[0])
    cached("clf", make_model(0, width=16), train, folder=tmp_path)  # another config: retrain
    assert len(calls) == 2 and "Retraining clf" in capsys.readouterr().out


def test_fit_classifier_resumes_from_the_saved_step(tmp_path, subset, capsys):
    path = tmp_path / "run.pt"

    def crash_after(stream, n):
        for i, batch in enumerate(stream):
            if i == n:
                raise KeyboardInterrupt("session lost")
            yield batch

    def counted(stream, drawn):
        for batch in stream:
            drawn.append(1)
            yield batch

    with pytest.raises(KeyboardInterrupt):
        fit_classifier(make_model(0).train(), crash_after(batches(subset, 32, 0), 30), 40,
                       log_every=10, checkpoint=path, checkpoint_every=20)
    assert load_checkpoint(path)["step"] == 20
    drawn = []
    history = fit_classifier(make_model(0).train(), counted(batches(subset, 32, 0), drawn), 40,
                             log_every=10, checkpoint=path, checkpoint_every=20)
    assert "Resumed from" in capsys.readouterr().out
    assert len(drawn) == 20, "a resumed run should only train the remaining steps"
    assert history.steps["loss"] == [10, 20, 30, 40]  # the first two come from the checkpoint
    assert load_checkpoint(path)["step"] == 40


def test_a_cached_path_is_shown_under_the_home_folder_as_a_tilde(tmp_path):
    from genaug.checkpoint import shown_path

    assert shown_path(pathlib.Path.home() / ".cache" / "genaug" / "m.pt") == "~/.cache/genaug/m.pt"
    assert shown_path(tmp_path / "m.pt") == str(tmp_path / "m.pt")  # elsewhere: as it is
