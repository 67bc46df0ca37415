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
