"""The ten workloads of the benchmark, each model written once as a user writes it.

Every ``build_*`` function takes the library module (``import torch`` or ``import shenjing``) and
returns the model written with that library's ``nn``: the very same code runs on both, which is the
library's promise. No class from ``shenjing.models`` is used. ``optimizer`` and ``loss`` of each
workload are written the same way.

``train_losses`` and ``parity`` run a workload from PyTorch's initial weights (copied into shenjing
through ``load_state_dict`` from NumPy arrays) on the same batches in both libraries and compare the
losses step by step; ``benchmarks/run.py --check`` and ``tests/test_training_parity.py`` use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np


# -- the models ------------------------------------------------------------------------------------

def build_lenet(torch: Any) -> Any:
    """LeNet-5 as ``nn.Sequential`` on 1x28x28 (conv1 padding 2)."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )


def build_tutorial_net(torch: Any) -> Any:
    """The ``Net`` of PyTorch's "Neural Networks" tutorial (1x32x32, functional forward)."""
    nn = torch.nn
    F = torch.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 5)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = x.view(-1, self.num_flat_features(x))
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            return self.fc3(x)

        def num_flat_features(self, x):
            size = x.size()[1:]
            num_features = 1
            for s in size:
                num_features *= s
            return num_features

    return Net()


def build_course_cnn(torch: Any) -> Any:
    """The course CNN as ``nn.Sequential`` on 3x32x32."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 10),
    )


def build_mlp(torch: Any) -> Any:
    """MLP 784-256-128-10."""
    nn = torch.nn
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                         nn.Linear(128, 10))


def build_mnist_example(torch: Any) -> Any:
    """The ``Net`` of PyTorch's examples/mnist (log-probabilities out)."""
    nn = torch.nn
    F = torch.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = self.conv1(x)
            x = F.relu(x)
            x = self.conv2(x)
            x = F.relu(x)
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = torch.flatten(x, 1)
            x = self.fc1(x)
            x = F.relu(x)
            x = self.dropout2(x)
            x = self.fc2(x)
            return F.log_softmax(x, dim=1)

    return Net()


def build_bn_cnn(torch: Any) -> Any:
    """[conv3x3 (no bias) - BatchNorm2d - ReLU] x3 on 3x32x32, global average pool, Linear(64, 10)."""
    nn = torch.nn

    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(
        *block(3, 16), nn.MaxPool2d(2),
        *block(16, 32), nn.MaxPool2d(2),
        *block(32, 64),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10),
    )


def build_lstm(torch: Any) -> Any:
    """An LSTM reading a 28x28 digit row by row; the last step's output is classified."""
    nn = torch.nn

    class RowLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(28, 64, batch_first=True)
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            out, _ = self.lstm(x.view(-1, 28, 28))
            return self.fc(out[:, -1, :])

    return RowLSTM()


def build_quickstart_mlp(torch: Any) -> Any:
    """The ``NeuralNetwork`` of PyTorch's quickstart tutorial."""
    nn = torch.nn

    class NeuralNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.flatten = nn.Flatten()
            self.linear_relu_stack = nn.Sequential(
                nn.Linear(28 * 28, 512), nn.ReLU(),
                nn.Linear(512, 512), nn.ReLU(),
                nn.Linear(512, 10),
            )

        def forward(self, x):
            x = self.flatten(x)
            return self.linear_relu_stack(x)

    return NeuralNetwork()


# -- optimisers and losses, written the same way ---------------------------------------------------

def sgd_momentum(torch: Any, params: Any) -> Any:
    return torch.optim.SGD(params, lr=0.01, momentum=0.9)


def adam(torch: Any, params: Any) -> Any:
    return torch.optim.Adam(params, lr=1e-3)


def adadelta(torch: Any, params: Any) -> Any:
    return torch.optim.Adadelta(params, lr=1.0)


def cross_entropy(torch: Any, output: Any, target: Any) -> Any:
    return torch.nn.functional.cross_entropy(output, target)


def nll_loss(torch: Any, output: Any, target: Any) -> Any:
    return torch.nn.functional.nll_loss(output, target)


@dataclass(frozen=True)
class Workload:
    description: str
    build: Callable[[Any], Any]
    input_shape: tuple[int, ...]
    batch: int
    optimizer: Callable[[Any, Any], Any]
    loss: Callable[[Any, Any, Any], Any]
    training: bool
    steps: int  # timed steps (sized for about a second of PyTorch on 2 cores)
    warmup: int
    target: float  # the target ratio, shenjing samples/s over PyTorch's


MNIST, CIFAR, TUTORIAL = (1, 28, 28), (3, 32, 32), (1, 32, 32)

WORKLOADS: dict[str, Workload] = {
    "lenet-seq-b64": Workload("LeNet-5 Sequential, SGD, b64", build_lenet, MNIST, 64,
                              sgd_momentum, cross_entropy, True, 150, 10, 1.0),
    "tutorial-net-b64": Workload("tutorial Net (F.relu, view), SGD, b64", build_tutorial_net, TUTORIAL, 64,
                                 sgd_momentum, cross_entropy, True, 150, 10, 1.0),
    "course-cnn-seq-b64": Workload("course CNN Sequential, SGD, b64", build_course_cnn, CIFAR, 64,
                                   sgd_momentum, cross_entropy, True, 150, 10, 1.0),
    "mlp-b64": Workload("MLP 784-256-128-10, SGD, b64", build_mlp, MNIST, 64,
                        sgd_momentum, cross_entropy, True, 600, 30, 1.2),
    "lenet-seq-b1": Workload("LeNet-5 Sequential, SGD, b1", build_lenet, MNIST, 1,
                             sgd_momentum, cross_entropy, True, 1500, 100, 2.0),
    "lenet-seq-infer-b256": Workload("LeNet-5 Sequential no_grad, b256", build_lenet, MNIST, 256,
                                     sgd_momentum, cross_entropy, False, 60, 5, 1.0),
    "mnist-example-b64": Workload("MNIST example Net, Adadelta, b64", build_mnist_example, MNIST, 64,
                                  adadelta, nll_loss, True, 20, 3, 1.0),
    "bn-cnn-b64": Workload("BatchNorm CNN, Adam, b64", build_bn_cnn, CIFAR, 64,
                           adam, cross_entropy, True, 40, 5, 1.0),
    "lstm-b64": Workload("LSTM(28, 64) over rows, Adam, b64", build_lstm, MNIST, 64,
                         adam, cross_entropy, True, 100, 10, 1.0),
    "mlp-wide-adam-b64": Workload("quickstart MLP 784-512-512-10, Adam, b64", build_quickstart_mlp, MNIST, 64,
                                  adam, cross_entropy, True, 300, 20, 1.0),
}


# -- data and the training loop --------------------------------------------------------------------

def make_batches(workload: Workload, batch: int | None = None, count: int = 8,
                 dtype: Any = np.float32, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` batches of standard-normal images and uniform labels in 0..9 (fixed seed)."""
    rng = np.random.default_rng(seed)
    shape = (batch or workload.batch,) + workload.input_shape
    return [(rng.standard_normal(shape).astype(dtype), rng.integers(0, 10, shape[0]).astype(np.int64))
            for _ in range(count)]


def make_step(torch: Any, workload: Workload, model: Any, batches: list) -> Callable[[], Any]:
    """One training step (or one inference batch) per call, cycling over ``batches``; returns the loss."""
    data = [(torch.tensor(x), torch.tensor(y)) for x, y in batches]
    state = {"i": 0}
    if not workload.training:
        model.eval()

        def infer() -> Any:
            x, y = data[state["i"] % len(data)]
            state["i"] += 1
            with torch.no_grad():
                return workload.loss(torch, model(x), y)
        return infer
    model.train()
    opt = workload.optimizer(torch, model.parameters())

    def train() -> Any:
        x, y = data[state["i"] % len(data)]
        state["i"] += 1
        opt.zero_grad()
        loss = workload.loss(torch, model(x), y)
        loss.backward()
        opt.step()
        return loss
    return train


def no_dropout(torch: Any, model: Any) -> int:
    """Set every ``nn.Dropout``'s p to 0 (both libraries draw different masks); returns how many."""
    count = 0
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
            count += 1
    return count


def train_losses(torch: Any, workload: Workload, state: dict[str, np.ndarray] | None, batches: list,
                 steps: int, dtype: Any = np.float32) -> tuple[list[float], dict[str, np.ndarray], int]:
    """Build the workload's model in ``torch`` (loading ``state`` if given), run ``steps`` steps.

    Returns the losses, the model's initial state as NumPy arrays and the number of dropout layers
    that were switched off (p = 0).
    """
    torch.manual_seed(0)
    model = workload.build(torch)
    if dtype == np.float64:
        model = model.double()
    if state is not None:  # shenjing loads NumPy arrays; PyTorch wants tensors
        model.load_state_dict(state if torch.__name__ == "shenjing"
                              else {k: torch.from_numpy(v) for k, v in state.items()})
    initial = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    dropped = no_dropout(torch, model)
    step = make_step(torch, workload, model, batches)
    return [float(step().item()) for _ in range(steps)], initial, dropped


def parity(workload: Workload, batch: int | None = None, steps: int = 100,
           dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray, int]:
    """The losses of ``steps`` steps in PyTorch and in shenjing from the same weights and batches.

    Returns (torch losses, shenjing losses, dropout layers switched off). Imports both libraries.
    """
    import shenjing
    import torch

    batches = make_batches(workload, batch, dtype=dtype)
    expected, state, dropped = train_losses(torch, workload, None, batches, steps, dtype)
    actual, _, _ = train_losses(shenjing, workload, state, batches, steps, dtype)
    return np.array(expected), np.array(actual), dropped


def max_relative_difference(expected: np.ndarray, actual: np.ndarray) -> float:
    return float(np.max(np.abs(actual - expected) / np.maximum(np.abs(expected), 1e-12)))
