"""The shared Accelerate training loop and the training tasks built on it."""

from .loop import (
    StepResult,
    TrainingDivergedError,
    TrainingState,
    TrainingTask,
    latest_checkpoint,
    make_scheduler,
    train,
)

__all__ = [
    "StepResult",
    "TrainingDivergedError",
    "TrainingState",
    "TrainingTask",
    "latest_checkpoint",
    "make_scheduler",
    "train",
]
