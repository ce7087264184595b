"""Programs of our own that make the calls PyTorch's beginner tutorials and the pytorch/examples MNIST script
make (tensors, autograd, quickstart, "what is torch.nn really", examples/mnist), each written once against a
``torch``-like module and run twice: with ``torch`` and with ``import shenjing as torch``.

Each program takes the library, its ``nn.functional``, the digits as NumPy arrays (the bundled MNIST digits,
the same for both libraries) and a ``say`` function that collects what it prints. Datasets are shortened
(a few hundred digits, one epoch or a few batches) so that the comparison runs in seconds.

``python tests/tutorial_programs.py`` prints each program's output under both libraries side by side;
``python tests/tutorial_programs.py --markdown > docs/tutorials.md`` writes the page that lists them.
"""

from __future__ import annotations

import math
import re
import sys
from typing import Any, Callable

import numpy as np


def tensors(torch: Any, F: Any, digits: dict, say: Callable) -> None:
    """The tensors tutorial: creation, attributes, indexing, joining, arithmetic, in-place, NumPy bridge."""
    torch.manual_seed(0)
    data = [[1, 2], [3, 4]]
    x_data = torch.tensor(data)
    say(x_data)
    np_array = np.array(data)
    say(torch.from_numpy(np_array))
    x_ones = torch.ones_like(x_data)
    say(f"Ones Tensor: \n {x_ones} \n")
    x_rand = torch.rand_like(x_data, dtype=torch.float)
    say(f"Random Tensor: \n {x_rand} \n")
    shape = (2, 3,)
    say(f"Random Tensor: \n {torch.rand(shape)} \n")
    say(f"Ones Tensor: \n {torch.ones(shape)} \n")
    tensor = torch.rand(3, 4)
    say(f"Shape of tensor: {tensor.shape}")
    say(f"Datatype of tensor: {tensor.dtype}")
    say(f"Device tensor is stored on: {tensor.device}")
    tensor = torch.ones(4, 4)
    say(f"First row: {tensor[0]}")
    say(f"First column: {tensor[:, 0]}")
    say(f"Last column: {tensor[..., -1]}")
    tensor[:, 1] = 0
    say(tensor)
    say(torch.cat([tensor, tensor, tensor], dim=1))
    y1 = tensor @ tensor.T
    y2 = tensor.matmul(tensor.T)
    say(y1, y2)
    z1 = tensor * tensor
    z3 = torch.rand_like(tensor)
    say(z1, z3)
    agg = tensor.sum()
    agg_item = agg.item()
    say(agg_item, type(agg_item).__name__)
    say(f"{tensor} \n")
    tensor.add_(5)
    say(tensor)
    t = torch.ones(5)
    n = t.numpy()
    t.add_(1)
    say(f"t: {t}")
    say(f"n: {n}")
    say(torch.randn(2, 5), torch.randint(0, 10, (6,)), torch.randperm(8))


def autograd(torch: Any, F: Any, digits: dict, say: Callable) -> None:
    """The autograd tutorial: a one-layer network, its grad_fn, gradients, no_grad, vector-Jacobian products."""
    torch.manual_seed(0)
    x = torch.ones(5)
    y = torch.zeros(3)
    w = torch.randn(5, 3, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    z = torch.matmul(x, w) + b
    loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
    say(f"Gradient function for z = {z.grad_fn}")
    say(f"Gradient function for loss = {loss.grad_fn}")
    loss.backward()
    say(w.grad)
    say(b.grad)
    say(loss)
    z = torch.matmul(x, w) + b
    say(z.requires_grad)
    with torch.no_grad():
        z = torch.matmul(x, w) + b
    say(z.requires_grad)
    z = torch.matmul(x, w) + b
    z_det = z.detach()
    say(z_det.requires_grad)
    inp = torch.eye(4, 5, requires_grad=True)
    out = (inp + 1).pow(2).t()
    out.backward(torch.ones_like(out), retain_graph=True)
    say(f"First call\n{inp.grad}")
    out.backward(torch.ones_like(out), retain_graph=True)
    say(f"\nSecond call\n{inp.grad}")
    inp.grad.zero_()
    out.backward(torch.ones_like(out), retain_graph=True)
    say(f"\nCall after zeroing gradients\n{inp.grad}")


def _loaders(torch: Any, digits: dict, count: int, batch_size: int, shuffle: bool, normalise: bool = False) -> tuple:
    from_numpy = torch.from_numpy
    data = torch.utils.data
    train = digits["train_x"][:count].astype(np.float32) / 255
    test = digits["test_x"][:count // 2].astype(np.float32) / 255
    if normalise:  # transforms.Normalize((0.1307,), (0.3081,))
        train, test = (train - np.float32(0.1307)) / np.float32(0.3081), (test - np.float32(0.1307)) / np.float32(0.3081)
    train_set = data.TensorDataset(from_numpy(train[:, None]), from_numpy(digits["train_y"][:count]))
    test_set = data.TensorDataset(from_numpy(test[:, None]), from_numpy(digits["test_y"][:count // 2]))
    return (data.DataLoader(train_set, batch_size=batch_size, shuffle=shuffle),
            data.DataLoader(test_set, batch_size=batch_size))


def quickstart(torch: Any, F: Any, digits: dict, say: Callable) -> None:
    """The quickstart: an MLP class, CrossEntropyLoss, SGD, the train and test loops and their printouts."""
    nn = torch.nn
    torch.manual_seed(0)
    train_dataloader, test_dataloader = _loaders(torch, digits, 640, 64, shuffle=True)
    for X, y in test_dataloader:
        say(f"Shape of X [N, C, H, W]: {X.shape}")
        say(f"Shape of y: {y.shape} {y.dtype}")
        break

    class NeuralNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.flatten = nn.Flatten()
            self.linear_relu_stack = nn.Sequential(
                nn.Linear(28 * 28, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))

        def forward(self, x):
            return self.linear_relu_stack(self.flatten(x))

    model = NeuralNetwork()
    say(model)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-1)
    for epoch in range(2):
        say(f"Epoch {epoch + 1}\n-------------------------------")
        size = len(train_dataloader.dataset)
        model.train()
        for batch, (X, y) in enumerate(train_dataloader):
            loss = loss_fn(model(X), y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            if batch % 3 == 0:
                loss, current = loss.item(), (batch + 1) * len(X)
                say(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")
        size, num_batches = len(test_dataloader.dataset), len(test_dataloader)
        model.eval()
        test_loss, correct = 0, 0
        with torch.no_grad():
            for X, y in test_dataloader:
                pred = model(X)
                test_loss += loss_fn(pred, y).item()
                correct += (pred.argmax(1) == y).type(torch.float).sum().item()
        test_loss /= num_batches
        correct /= size
        say(f"Test Error: \n Accuracy: {(100 * correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")
    X = torch.rand(1, 28, 28)
    say(f"Predicted class: {model(X).argmax(1)}")


def nn_really(torch: Any, F: Any, digits: dict, say: Callable) -> None:
    """'What is torch.nn really?': logistic regression by hand, then nn.Module, nn.Linear, optim,
    DataLoader and a small CNN, each trained for a few batches."""
    nn, optim = torch.nn, torch.optim
    torch.manual_seed(0)
    x_train = torch.tensor(digits["train_x"][:256].reshape(-1, 784).astype(np.float32) / 255)
    y_train = torch.tensor(digits["train_y"][:256])
    n, c = x_train.shape
    say(x_train, y_train, x_train.shape, y_train.min(), y_train.max())
    weights = torch.randn(784, 10) / math.sqrt(784)
    weights.requires_grad_()
    bias = torch.zeros(10, requires_grad=True)

    def log_softmax(x):
        return x - x.exp().sum(-1).log().unsqueeze(-1)

    def model(xb):
        return log_softmax(xb @ weights + bias)

    bs = 64
    xb, yb = x_train[0:bs], y_train[0:bs]
    preds = model(xb)
    say(preds[0], preds.shape)

    def nll(input, target):
        return -input[range(target.shape[0]), target].mean()

    def accuracy(out, yb):
        return (torch.argmax(out, dim=1) == yb).float().mean()

    say(nll(preds, yb), accuracy(preds, yb))
    lr = 0.5
    for i in range((n - 1) // bs + 1):
        xb, yb = x_train[i * bs: i * bs + bs], y_train[i * bs: i * bs + bs]
        loss = nll(model(xb), yb)
        loss.backward()
        with torch.no_grad():
            weights -= weights.grad * lr
            bias -= bias.grad * lr
            weights.grad.zero_()
            bias.grad.zero_()
    say(nll(model(xb), yb), accuracy(model(xb), yb))
    loss_func = F.cross_entropy
    say(loss_func(xb @ weights + bias, yb), accuracy(xb @ weights + bias, yb))

    class MnistLogistic(nn.Module):
        def __init__(self):
            super().__init__()
            self.weights = nn.Parameter(torch.randn(784, 10) / math.sqrt(784))
            self.bias = nn.Parameter(torch.zeros(10))

        def forward(self, xb):
            return xb @ self.weights + self.bias

    class MnistLinear(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(784, 10)

        def forward(self, xb):
            return self.lin(xb)

    train_ds = torch.utils.data.TensorDataset(x_train, y_train)
    for make in (MnistLogistic, MnistLinear):
        net = make()
        say(loss_func(net(xb), yb))
        opt = optim.SGD(net.parameters(), lr=lr)
        train_dl = torch.utils.data.DataLoader(train_ds, batch_size=bs, shuffle=True)
        for xb_, yb_ in train_dl:
            loss = loss_func(net(xb_), yb_)
            loss.backward()
            opt.step()
            opt.zero_grad()
        say(loss_func(net(xb), yb))

    class MnistCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1)
            self.conv2 = nn.Conv2d(16, 16, kernel_size=3, stride=2, padding=1)
            self.conv3 = nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1)

        def forward(self, xb):
            xb = xb.view(-1, 1, 28, 28)
            xb = F.relu(self.conv1(xb))
            xb = F.relu(self.conv2(xb))
            xb = F.relu(self.conv3(xb))
            xb = F.avg_pool2d(xb, 4)
            return xb.view(-1, xb.size(1))

    net = MnistCNN()
    opt = optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    for epoch in range(2):
        net.train()
        for xb_, yb_ in torch.utils.data.DataLoader(train_ds, batch_size=bs, shuffle=True):
            loss = loss_func(net(xb_), yb_)
            loss.backward()
            opt.step()
            opt.zero_grad()
        net.eval()
        with torch.no_grad():
            valid_loss = sum(loss_func(net(xb_), yb_) for xb_, yb_ in
                             torch.utils.data.DataLoader(train_ds, batch_size=bs * 2))
        say(epoch, valid_loss / 2)


def mnist_example(torch: Any, F: Any, digits: dict, say: Callable) -> None:
    """pytorch/examples mnist/main.py with the epochs shortened: its Net (two convolutions, dropout, two
    linear layers), Adadelta with StepLR, its train and test printouts, on a part of the digits."""
    nn, optim = torch.nn, torch.optim

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
            x = F.relu(self.conv1(x))
            x = F.relu(self.conv2(x))
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = torch.flatten(x, 1)
            x = F.relu(self.fc1(x))
            x = self.dropout2(x)
            x = self.fc2(x)
            return F.log_softmax(x, dim=1)

    torch.manual_seed(1)
    train_loader, test_loader = _loaders(torch, digits, 256, 32, shuffle=True, normalise=True)
    model = Net()
    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    for epoch in range(1, 3):
        model.train()
        for batch_idx, (data, target) in enumerate(train_loader):
            optimizer.zero_grad()
            output = model(data)
            loss = F.nll_loss(output, target)
            loss.backward()
            optimizer.step()
            if batch_idx % 2 == 0:
                say('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                    epoch, batch_idx * len(data), len(train_loader.dataset),
                    100. * batch_idx / len(train_loader), loss.item()))
        model.eval()
        test_loss = 0
        correct = 0
        with torch.no_grad():
            for data, target in test_loader:
                output = model(data)
                test_loss += F.nll_loss(output, target, reduction='sum').item()
                pred = output.argmax(dim=1, keepdim=True)
                correct += pred.eq(target.view_as(pred)).sum().item()
        test_loss /= len(test_loader.dataset)
        say('\nTest set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)\n'.format(
            test_loss, correct, len(test_loader.dataset), 100. * correct / len(test_loader.dataset)))
        scheduler.step()


PROGRAMS = {"tensors": tensors, "autograd": autograd, "quickstart": quickstart, "nn_really": nn_really,
            "mnist_example": mnist_example}


def load_digits() -> dict:
    """The bundled MNIST digits as NumPy arrays (the same inputs for both libraries)."""
    from shenjing.vision.datasets import MNIST

    train, test = MNIST(None, train=True), MNIST(None, train=False)
    return {"train_x": train.data.numpy(), "train_y": train.targets.numpy().astype(np.int64),
            "test_x": test.data.numpy(), "test_y": test.targets.numpy().astype(np.int64)}


def run(name: str, library: Any, digits: dict) -> list[str]:
    """What the program prints under ``library``, as lines."""
    printed: list[str] = []

    def say(*values: Any) -> None:
        printed.append(" ".join(str(value) for value in values))

    PROGRAMS[name](library, library.nn.functional, digits, say)
    return "\n".join(printed).splitlines()


_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def same_up_to_rounding(ours: str, theirs: str, rtol: float) -> bool:
    """The lines are equal, or equal apart from numbers that agree within ``rtol`` (last printed digit)."""
    if ours == theirs:
        return True
    if _NUMBER.sub("#", ours) != _NUMBER.sub("#", theirs):
        return False
    for a, b in zip(_NUMBER.findall(ours), _NUMBER.findall(theirs)):
        digits = len(a.split(".")[1]) if "." in a and "e" not in a.lower() else 0
        if not math.isclose(float(a), float(b), rel_tol=rtol, abs_tol=1.01 * 10 ** -digits if digits else 0):
            return False
    return True


# -- docs/tutorials.md -------------------------------------------------------------------------------

SOURCES = {  # program: (the tutorial or example it follows, its address, what the program changes)
    "tensors": ("Learn the Basics: Tensors", "https://pytorch.org/tutorials/beginner/basics/tensorqs_tutorial.html",
                "as written, with a seed, and the CUDA/accelerator branch left out (CPU only)"),
    "autograd": ("Learn the Basics: Automatic Differentiation with torch.autograd",
                 "https://pytorch.org/tutorials/beginner/basics/autogradqs_tutorial.html",
                 "as written, with a seed"),
    "quickstart": ("Learn the Basics: Quickstart",
                   "https://pytorch.org/tutorials/beginner/basics/quickstart_tutorial.html",
                   "the bundled MNIST digits (640 to train, 320 to test) in place of FashionMNIST, 2 epochs, "
                   "a loss printed every 3 batches, lr 0.1; no model saving"),
    "nn_really": ("What is torch.nn really?", "https://pytorch.org/tutorials/beginner/nn_tutorial.html",
                  "256 bundled digits instead of the pickled MNIST download, the validation set replaced by "
                  "the training digits, 1 epoch per model (2 for the CNN)"),
    "mnist_example": ("pytorch/examples: mnist/main.py", "https://github.com/pytorch/examples/blob/main/mnist/main.py",
                      "256 digits to train and 128 to test (normalised as its transforms do) as tensors, batch "
                      "size 32, 2 epochs, a loss printed every 2 batches; no argument parsing"),
}

# Differences that are not numbers, each with the reason it is kept: (pattern in shenjing's line, reason)
KNOWN_DIFFERENCES = [
    (re.compile(r"shenjing\.Size"), "`shenjing.Size`: the object is shenjing's Size (a tuple subclass, as "
     "torch.Size is), and its repr names its library"),
    (re.compile(r"\bshenjing\.(float|int|uint|bool|complex)"), "a dtype's repr names its library "
     "(`shenjing.float32` for `torch.float32`): the dtype objects are shenjing's"),
]

FIRST_LINES = 8
_ADDRESS = re.compile(r" object at 0x[0-9a-f]+>")


def _difference_reason(ours: str, theirs: str) -> str:
    if same_up_to_rounding(ours, theirs, rtol=1e-5):
        return "the last printed digit (float32 sums in another order)"
    reasons = [reason for pattern, reason in KNOWN_DIFFERENCES if pattern.search(ours)]
    return "; ".join(reasons) if reasons else "not explained: see tests/test_tutorial_runs.py"


def section(program: str, inputs: dict) -> str:
    """The part of docs/tutorials.md for one program: the tutorial it follows, its first lines under both
    libraries, and every line that differs with the reason. Memory addresses (a printed grad_fn's) are
    written as 0x..., so that the page is the same in every run."""
    import shenjing
    import torch as real_torch

    theirs, ours = ([_ADDRESS.sub(" object at 0x...>", line).expandtabs()
                     for line in run(program, library, inputs)] for library in (real_torch, shenjing))
    title, address, changes = SOURCES[program]
    identical = sum(a == b for a, b in zip(ours, theirs))
    out = [f"## {program}", "", f"Follows [{title}]({address}); changed: {changes}.", "",
           f"{identical} of {len(theirs)} lines identical ({len(ours)} printed by shenjing). "
           f"First {FIRST_LINES} lines, PyTorch | shenjing:", "", "```text"]
    head = list(zip(theirs, ours))[:FIRST_LINES]
    width = max(len(a) for a, _ in head)
    out += [f"{a:<{width}} | {b}".rstrip() for a, b in head] + ["```", ""]
    differing = [(a, b) for a, b in zip(theirs, ours) if a != b]
    if not differing:
        return "\n".join(out + ["Every line is identical.", ""])
    out += ["Lines that differ (PyTorch, then shenjing) and why:", ""]
    for a, b in differing:
        out += [f"- `{a.strip()}`", f"  `{b.strip()}`: {_difference_reason(b, a)}"]
    return "\n".join(out + [""])


def markdown(inputs: dict) -> str:
    """The whole of docs/tutorials.md."""
    intro = ["# Tutorials run under shenjing", "",
             "Programs of our own (`tests/tutorial_programs.py`) make the calls of PyTorch's beginner tutorials "
             "and of pytorch/examples' MNIST script; each runs twice, with `torch` (2.13, CPU) and with "
             "`import shenjing as torch`, seeded alike, on the same bundled MNIST digits. "
             "`tests/test_tutorial_runs.py` checks that every line agrees (numbers to float32 rounding once "
             "training has run; the differences named below aside). The memory address in a printed grad_fn "
             "(`<AddBackward0 object at 0x...>`) differs in every run of either library and is written as `0x...`; "
             "the names are PyTorch's (`tests/test_grad_fn_names.py` compares them for a few hundred "
             "expressions). Tabs are written as spaces.", "",
             "Regenerate this page with `python tests/tutorial_programs.py --markdown > docs/tutorials.md` "
             "(PYTHONPATH pointing at `src/`, torch installed); `python tests/tutorial_programs.py [program ...]` "
             "prints the whole output side by side.", ""]
    return "\n".join(intro + [section(program, inputs) for program in PROGRAMS])


if __name__ == "__main__":
    import shenjing
    import torch as real_torch

    inputs = load_digits()
    if sys.argv[1:] == ["--markdown"]:
        print(markdown(inputs))
        sys.exit()
    for program in sys.argv[1:] or PROGRAMS:
        ours, theirs = run(program, shenjing, inputs), run(program, real_torch, inputs)
        print(f"=== {program}: {sum(a == b for a, b in zip(ours, theirs))} of {len(theirs)} lines identical")
        width = max([len(line) for line in ours] + [10])
        print(f"{'shenjing':<{width}}    torch")
        for a, b in zip(theirs, ours):
            mark = "  " if a == b else ("~ " if same_up_to_rounding(a, b, 1e-4) else "!=")
            print(f"{b:<{width}} {mark} {a}")
