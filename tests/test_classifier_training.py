"""SmallCNN (single and stacked) and fit_classifier: shapes, learning, a stack that trains as its
models would alone, repeatability, NaN guard."""

import dataclasses

import pytest
import torch

from genaug.data import batches, load_dataset, stratified_subset
from genaug.models.classifier import ClassifierConfig, SmallCNN
from genaug.train import NonFiniteLossError, evaluate, fit_classifier, predict

SMALL = dict(width=8)  # a few milliseconds a step on a CPU


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's 8x8 digits: always available, no download."""
    return load_dataset("digits", "train"), load_dataset("digits", "test")


def stacked(streams):
    """M streams of batches as one stack's: images (M, B, C, H, W) and labels (M, B)."""
    while True:
        xs, ys = zip(*(next(s) for s in streams), strict=True)
        yield torch.stack(xs), torch.stack(ys)


def model_of_stack(stack: SmallCNN, m: int) -> SmallCNN:
    """Model ``m`` of a stack as a SmallCNN of its own (every stacked tensor is model-major)."""
    n_models = stack.config.n_models
    single = SmallCNN(dataclasses.replace(stack.config, n_models=1))
    single.load_state_dict({name: tensor.chunk(n_models)[m] if tensor.ndim else tensor
                            for name, tensor in stack.state_dict().items()})
    return single


@pytest.mark.parametrize("size", [8, 28])
def test_output_shapes(size):
    model = SmallCNN(ClassifierConfig(**SMALL))
    x, y = torch.rand(5, 1, size, size), torch.arange(5)
    logits, loss = model(x)
    assert logits.shape == (5, 10) and loss is None
    logits, loss = model(x, y)
    assert loss.shape == () and torch.isfinite(loss)
    assert model.features(x).shape == (5, 4 * SMALL["width"])


def test_stack_shapes_and_shared_initial_weights():
    model = SmallCNN(ClassifierConfig(n_models=3, **SMALL)).eval()
    x = torch.rand(6, 1, 28, 28).expand(3, 6, 1, 28, 28)  # (M, B, C, H, W): the same images
    logits, loss = model(x, torch.arange(6))
    assert logits.shape == (3, 6, 10) and loss.shape == ()
    assert model(x, torch.arange(6).expand(3, 6))[1].shape == ()  # per-model targets (M, B)
    assert not torch.allclose(logits[0], logits[1])  # independent initial weights
    logits = model.share_initial_weights()(x)[0]
    assert torch.allclose(logits[0], logits[1]) and torch.allclose(logits[0], logits[2])


def test_stack_loss_is_the_sum_of_the_models_losses():
    torch.manual_seed(0)
    stack = SmallCNN(ClassifierConfig(n_models=2, dropout=0.0, **SMALL)).share_initial_weights()
    x, y = torch.rand(2, 4, 1, 8, 8), torch.randint(0, 10, (2, 4))
    _, stacked = stack.eval()(x, y)
    alone = sum(model_of_stack(stack, m).eval()(x[m], y[m])[1] for m in range(2))
    assert torch.allclose(stacked, alone, atol=1e-5)


def test_config_is_frozen_and_never_shared():
    with pytest.raises(dataclasses.FrozenInstanceError):
        SmallCNN().config.n_models = 3
    assert SmallCNN().config.n_models == 1


def test_wrong_input_shapes_name_the_fix():
    model = SmallCNN(ClassifierConfig(**SMALL))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\) with C=1, got \(28, 28\).*unsqueeze"):
        model(torch.rand(28, 28))
    with pytest.raises(ValueError, match=r"got \(2, 3, 28, 28\)"):
        model(torch.rand(2, 3, 28, 28))
    with pytest.raises(ValueError, match="at least 8x8"):
        model(torch.rand(2, 1, 4, 4))
    with pytest.raises(ValueError, match=r"targets must have shape \(2,\)"):
        model(torch.rand(2, 1, 8, 8), torch.zeros(3, dtype=torch.long))
    stack = SmallCNN(ClassifierConfig(n_models=3, **SMALL))
    with pytest.raises(ValueError, match=r"\(3, B, C, H, W\)"):
        stack(torch.rand(2, 5, 1, 8, 8))


def test_fit_classifier_learns_digits(digits):
    train, test = digits
    torch.manual_seed(0)
    model = SmallCNN(ClassifierConfig(width=16))
    history = fit_classifier(model, train, steps=150, batch_size=32, eval_data=test,
                             eval_every=75, log_every=50)
    result = evaluate(model, test)
    assert result["accuracy"] >= 0.9, result
    assert history.steps["loss"] == [50, 100, 150]
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history.steps["eval_accuracy"] == [75, 150]
    assert history.last("eval_accuracy") == pytest.approx(result["accuracy"])
    assert len(result["recall"]) == 10 and all(0.0 <= r <= 1.0 for r in result["recall"])
    assert result["balanced_accuracy"] == pytest.approx(sum(result["recall"]) / 10)


def test_evaluate_a_stack_gives_one_value_per_model(digits):
    _, test = digits
    stack = SmallCNN(ClassifierConfig(n_models=2, **SMALL))
    result = evaluate(stack, test)
    assert len(result["accuracy"]) == 2 and len(result["recall"]) == 2
    assert len(result["recall"][0]) == 10


def test_fit_a_stack_from_a_batch_iterator(digits):
    train, _ = digits
    subsets = [stratified_subset(train, 10, seed) for seed in range(2)]
    streams = [batches(s, batch_size=32, seed=i) for i, s in enumerate(subsets)]
    stack = SmallCNN(ClassifierConfig(n_models=2, **SMALL))
    history = fit_classifier(stack, stacked(streams), steps=20, log_every=10)
    assert history.steps["loss"] == [10, 20]


def test_a_stack_trains_as_its_models_would_alone(digits):
    """As in the experiment: shared initial weights, then each model its own batches."""
    train, test = digits
    subsets = [stratified_subset(train, 10, seed) for seed in range(3)]

    def stream(m):
        return batches(subsets[m], batch_size=32, seed=m)

    torch.manual_seed(0)
    stack = SmallCNN(ClassifierConfig(n_models=3, dropout=0.0, **SMALL)).share_initial_weights()
    alone = [model_of_stack(stack, 0) for _ in range(3)]  # every model starts as model 0
    fit_classifier(stack, stacked([stream(m) for m in range(3)]), steps=25, log_every=25)
    for m, model in enumerate(alone):
        fit_classifier(model, stream(m), steps=25, log_every=25)
    stacked_logits = predict(stack, test.images)  # (M, N, K)
    for m, model in enumerate(alone):
        torch.testing.assert_close(stacked_logits[m], predict(model, test.images),
                                   atol=1e-4, rtol=1e-4)
    assert not torch.allclose(stacked_logits[0], stacked_logits[1], atol=1e-2)  # learnt apart


def test_same_seed_same_loss_history(digits):
    subset = stratified_subset(digits[0], 10, seed=0)

    def run(seed):
        torch.manual_seed(seed)
        model = SmallCNN(ClassifierConfig(**SMALL))
        return fit_classifier(model, subset, steps=30, batch_size=32, seed=seed, log_every=5)

    first = run(0)["loss"]
    assert first == run(0)["loss"]
    assert first != run(1)["loss"]


def test_nan_in_the_data_stops_training_with_advice(digits):
    subset = stratified_subset(digits[0], 2, seed=0)
    subset.images[0, 0, 0, 0] = float("nan")  # every batch of 20 holds this image
    model = SmallCNN(ClassifierConfig(**SMALL))
    with pytest.raises(NonFiniteLossError, match=r"classifier loss became nan by step 5.*"
                                                 r"learning rate too high.*holding NaN"):
        fit_classifier(model, subset, steps=50, batch_size=20, log_every=5)


def test_absurd_learning_rate_stops_training(digits):
    subset = stratified_subset(digits[0], 10, seed=0)
    torch.manual_seed(0)
    model = SmallCNN(ClassifierConfig(dropout=0.0, **SMALL))
    with pytest.raises(NonFiniteLossError, match="became (nan|inf)"):
        fit_classifier(model, subset, steps=200, batch_size=32, lr=1e12, log_every=5)
