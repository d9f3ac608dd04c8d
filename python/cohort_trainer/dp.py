"""Record-level DP building blocks that must match what Cohort's accountant assumes.

The coordinator charges the Poisson-subsampled Gaussian mechanism at rate q with per-record
sensitivity C. A trainer keeps that true only if (1) each record joins the batch independently
with probability <= q, from randomness nobody can predict, and (2) each record's gradient, over
the concatenation of ALL the model's tensors, has L2 norm <= C before summing.
"""
import math
import secrets

import numpy as np

# The relative margin under C each clipped gradient keeps (Cohort's
# RecordLevelTraining.normErrorMargin): the computed float64 norm may be below the true norm by
# rounding, so clipping to C / (1 + 1e-9) keeps the true norm <= C.
NORM_ERROR_MARGIN = 1e-9


def poisson_threshold(q):
    """The integer threshold t = floor(q * 2**53): a record is taken when 53 CSPRNG bits < t,
    i.e. with probability t / 2**53 <= q exactly (``random() < q`` can exceed q by rounding)."""
    if not (isinstance(q, (int, float)) and 0.0 < q <= 1.0):
        raise ValueError(f"sampling rate q must lie in (0, 1], got {q!r}")
    return math.floor(q * 2**53)  # exact: multiplying by a power of two does not round


def poisson_sample(n, q):
    """Indices of a Poisson sample of ``n`` records: each included independently with
    probability floor(q * 2**53) / 2**53 <= q, from the OS CSPRNG (``secrets``)."""
    if n < 0:
        raise ValueError(f"record count must be >= 0, got {n}")
    threshold = poisson_threshold(q)
    return np.array([i for i in range(n) if secrets.randbits(53) < threshold], dtype=np.int64)


def clip_rows(grads, clip):
    """Scales each row of ``grads`` ([batch, d], float64; d = ALL parameters concatenated) to L2
    norm <= clip / (1 + NORM_ERROR_MARGIN)."""
    if not (math.isfinite(clip) and clip > 0):
        raise ValueError(f"clipping bound C must be finite and > 0, got {clip!r}")
    grads = np.asarray(grads, dtype=np.float64)
    target = clip / (1.0 + NORM_ERROR_MARGIN)
    norms = np.sqrt(np.sum(grads * grads, axis=1))
    factors = np.where(norms > target, target / np.where(norms > 0, norms, 1.0), 1.0)
    return grads * factors[:, None]


def clipped_sum(grads, clip):
    """The sum over records of the clipped per-record gradients ([batch, d] -> [d], float64)."""
    grads = np.asarray(grads, dtype=np.float64)
    if grads.shape[0] == 0:
        return np.zeros(grads.shape[1:], dtype=np.float64)
    return clip_rows(grads, clip).sum(axis=0)
