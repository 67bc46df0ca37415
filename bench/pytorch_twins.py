"""The PyTorch twins of the `cnn::zoo` networks, shared by the fixture scripts (needs torch)."""

from torch import nn


def lenet5():
    # cnn::zoo::LeNet5: Conv2D 6@5x5 padding 2 relu, MaxPool 2, Conv2D 16@5x5 relu, MaxPool 2, Flatten,
    # Dense 120 relu, Dense 84 relu, Dense 10.
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )  # fmt: skip


def lenet5_batchnorm():
    # cnn::zoo::LeNet5BatchNorm: ZeroPad 2, Conv2D 6@5x5, BatchNorm, ReLU, MaxPool 2, Conv2D 16@5x5, BatchNorm,
    # ReLU, MaxPool 2, Flatten, Dense 120, BatchNorm, ReLU, Dense 84, BatchNorm, ReLU, Dense 10.
    return nn.Sequential(
        nn.ZeroPad2d(2),
        nn.Conv2d(1, 6, 5), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.BatchNorm1d(120), nn.ReLU(),
        nn.Linear(120, 84), nn.BatchNorm1d(84), nn.ReLU(),
        nn.Linear(84, 10),
    )  # fmt: skip


def keras_lenet5():
    # cnn::zoo::KerasLeNet5: Conv2D 6@5x5 sigmoid, MaxPool 2, Conv2D 16@5x5 sigmoid, MaxPool 2, Flatten,
    # Dense 120 sigmoid, Dense 84 sigmoid, Dense 10 softmax. Train through `model[:-1]` (logits) with
    # nn.CrossEntropyLoss, as our training fuses the final softmax into the loss.
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Sigmoid(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(256, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10), nn.Softmax(dim=1),
    )  # fmt: skip


def tf2():
    # cnn::zoo::Tf2Net: Conv2D 32@5x5 same relu, MaxPool 2, Conv2D 64@5x5 same relu, MaxPool 2, Flatten,
    # Dense 1024 relu, Dense 10 softmax (3,274,634 parameters). Train through `model[:-1]` (logits).
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(3136, 1024), nn.ReLU(),
        nn.Linear(1024, 10), nn.Softmax(dim=1),
    )  # fmt: skip


# The twins by the names `examples/throughput.rs` and `bench/compare.py` use.
TWINS = {"lenet5": lenet5, "keras_lenet5": keras_lenet5, "tf2": tf2}
