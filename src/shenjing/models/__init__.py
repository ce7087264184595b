"""The course's models: the perceptron, multi-layer perceptrons, LeNet-5, the course's CNN, the
Elman RNN and the XOR network of seed 004."""

from shenjing.models.cnn import CourseCNN, LeNet5
from shenjing.models.mlp import MLP
from shenjing.models.perceptron import Perceptron, PerceptronHistory
from shenjing.models.rnn import ElmanRNN
from shenjing.models.xor import XorNet

__all__ = ["Perceptron", "PerceptronHistory", "MLP", "LeNet5", "CourseCNN", "ElmanRNN", "XorNet"]
