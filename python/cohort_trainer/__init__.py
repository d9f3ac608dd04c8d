"""Helpers for Cohort external trainers (trainer contract 2, docs/TRAINER.md).

Install from the repository: ``pip install ./python`` (``pip install './python[torch]'`` for the
PyTorch helpers).

- :func:`poisson_sample` -- Poisson sampling from the OS CSPRNG with rate exactly <= q.
- :func:`clip_rows` / :func:`clipped_sum` -- per-record clipping to C with Cohort's margin.
- :class:`Round` -- reads what cohort-participant hands the trainer and writes the answer.
- :mod:`cohort_trainer.torch_dp` -- per-sample clipped gradient sums for PyTorch (torch.func).
"""
from .dp import NORM_ERROR_MARGIN, clip_rows, clipped_sum, poisson_sample, poisson_threshold
from .contract import CONTRACT_VERSION, ContractError, Round

__all__ = [
    "NORM_ERROR_MARGIN", "clip_rows", "clipped_sum", "poisson_sample", "poisson_threshold",
    "CONTRACT_VERSION", "ContractError", "Round",
]
