"""The book's tiny transformer (CONTRACTS §4): model, training, and the build's artifacts."""

from .model import TinyConfig, TinyTransformer, tensor_shapes
from .train import History, TrainConfig, TrainingDiverged, train, unigram_loss

__all__ = ["TinyConfig", "TinyTransformer", "tensor_shapes", "TrainConfig", "History",
           "TrainingDiverged", "train", "unigram_loss"]
