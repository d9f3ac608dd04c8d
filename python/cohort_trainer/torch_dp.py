"""Per-record clipped gradient sums for PyTorch models, with torch.func (no Opacus needed).

    from cohort_trainer.torch_dp import clipped_gradient_sum
    sums, batch = clipped_gradient_sum(model, loss_fn, features, labels, q, C)

``sums`` maps each parameter name to the sum over the Poisson sample of the per-record
gradients, each clipped to C over the concatenation of ALL parameters (the vector Cohort
noises). Sampling uses :func:`cohort_trainer.poisson_sample` (OS CSPRNG, rate <= q).
"""
import torch
from torch.func import functional_call, grad, vmap

from .dp import NORM_ERROR_MARGIN, poisson_sample


def clipped_gradient_sum(model, loss_fn, features, labels, q, clip):
    """Returns ({name: summed clipped gradient}, batch size) for one Poisson sample."""
    params = {name: p.detach() for name, p in model.named_parameters()}
    chosen = torch.as_tensor(poisson_sample(len(labels), q), dtype=torch.long)
    if chosen.numel() == 0:
        return {name: torch.zeros_like(p) for name, p in params.items()}, 0
    x, y = features[chosen], labels[chosen]

    def record_loss(p, xi, yi):
        out = functional_call(model, p, (xi.unsqueeze(0),))
        return loss_fn(out.reshape(-1), yi.reshape(-1))

    per_record = vmap(grad(record_loss), in_dims=(None, 0, 0))(params, x, y)
    flat = torch.cat([g.reshape(g.shape[0], -1).double() for g in per_record.values()], dim=1)
    norms = flat.norm(dim=1)
    target = clip / (1.0 + NORM_ERROR_MARGIN)
    factors = torch.where(norms > target, target / norms.clamp_min(1e-300), torch.ones_like(norms))
    sums = {name: (g.double() * factors.reshape((-1,) + (1,) * (g.dim() - 1))).sum(0) for name, g in per_record.items()}
    return sums, int(chosen.numel())
