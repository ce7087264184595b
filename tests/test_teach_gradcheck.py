"""Whole-model gradient checks: tiny errors for correct models, a large one for a wrong backward."""

import numpy as np
import pytest
import torch

import shenjing as sj
import shenjing.models as models
from shenjing import nn
from shenjing.cli import main
from shenjing.teach.gradcheck import check_model_gradients, verdict


class WrongSquare(sj.autograd.Function):
    """x² with a deliberately wrong backward: x instead of 2x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x


class WithWrongSquare(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.out = nn.Linear(2, 1)

    def forward(self, x):
        return self.out(WrongSquare.apply(self.fc(x)))


def test_correct_models_have_tiny_relative_errors():
    sj.manual_seed(0)
    rng = np.random.default_rng(0)
    cases = [
        (nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3)), rng.standard_normal((3, 4)), [0, 2, 1]),
        (models.CourseCNN(), rng.standard_normal((2, 3, 32, 32)), [3, 9]),
        (models.ElmanRNN(hidden_size=5), rng.standard_normal((2, 6, 1)), rng.standard_normal((2, 1))),
    ]
    for model, x, target in cases:
        report = check_model_gradients(model, x, target, max_elements=12, verbose=False)
        assert report.ok, report
        assert report.worst.relative_error < 1e-6
        assert [c.name for c in report.checks] == [n for n, _ in model.named_parameters()]
        assert all(c.verdict in ("correct", "fine if the model has kinks (ReLU, max)") for c in report.checks)


def test_a_wrong_backward_is_caught():
    sj.manual_seed(1)
    report = check_model_gradients(WithWrongSquare(), np.random.default_rng(1).standard_normal((4, 3)),
                                   verbose=False)
    assert not report.ok
    by_name = {c.name: c for c in report.checks}
    # the parameters below the wrong op get half their true gradient: relative error 0.5
    assert by_name["fc.weight"].relative_error == pytest.approx(0.5, abs=1e-6)
    assert by_name["fc.bias"].verdict == "WRONG"
    assert by_name["out.weight"].relative_error < 1e-7  # above it, backprop is still right
    assert "FAILED" in str(report) and "WRONG" in str(report)


def test_numerical_gradients_equal_torch_autograd():
    sj.manual_seed(2)
    model = nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 2))
    x = np.random.default_rng(2).standard_normal((5, 3))
    target = np.random.default_rng(3).standard_normal((5, 2))
    report = check_model_gradients(model, x, target, verbose=False)  # default loss for float targets: MSE
    reference = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Sigmoid(), torch.nn.Linear(4, 2)).double()
    with torch.no_grad():
        for (_, p), q in zip(model.named_parameters(), reference.parameters()):
            q.copy_(torch.tensor(p.detach().numpy(), dtype=torch.float64))
    torch.nn.functional.mse_loss(reference(torch.tensor(x)), torch.tensor(target)).backward()
    for check, q in zip(report.checks, reference.parameters()):
        np.testing.assert_allclose(check.numerical, q.grad.numpy().reshape(-1), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(check.analytic, q.grad.numpy().reshape(-1), rtol=1e-10, atol=1e-12)


def test_the_model_is_not_changed_and_sampling_limits_the_work():
    model = models.LeNet5()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    report = check_model_gradients(model, np.zeros((1, 1, 28, 28)), [4], max_elements=5, verbose=False)
    assert [c.checked for c in report.checks] == [min(5, p.numel()) for p in model.parameters()]
    for name, p in model.named_parameters():
        assert p.dtype == sj.float32 and sj.equal(p, before[name]) and p.grad is None


def test_verdict_thresholds():
    assert verdict(1e-9) == "correct" and verdict(1e-5).startswith("fine") and verdict(1e-3) == "suspicious"
    assert verdict(0.3) == "WRONG"


def test_cli_gradcheck(capsys):
    assert main(["gradcheck", "xo", "--elements", "5"]) == 0
    out = capsys.readouterr().out
    assert "Gradient check of xo" in out and "PASSED" in out
    assert main(["gradcheck", "perceptron"]) == 2
    assert main(["gradcheck", "lenet", "--elements", "0"]) == 2
