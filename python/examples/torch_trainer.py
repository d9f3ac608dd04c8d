#!/usr/bin/env python3
"""The same one-hidden-layer MLP as numpy_mlp_trainer.py, in PyTorch, with per-sample gradients
from torch.func and Cohort's sampling and clipping (trainer contract 2, docs/TRAINER.md).

Run by cohort-participant: --trainer "python3 python/examples/torch_trainer.py" --trainer-evaluates
Requires: pip install './python[torch]'
"""
import numpy as np
import torch
from torch import nn

from cohort_trainer import Round
from cohort_trainer.torch_dp import clipped_gradient_sum


class MLP(nn.Module):
    def __init__(self, features, hidden):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(features, hidden), nn.Linear(hidden, 1)])

    def forward(self, x):
        return self.layers[1](torch.tanh(self.layers[0](x)))


def main():
    rnd = Round()
    hidden, features = rnd.model["layers.0.weight"].shape
    model = MLP(features, hidden).double()
    model.load_state_dict({k: torch.from_numpy(v.astype(np.float64)) for k, v in rnd.model.items()})
    if rnd.task == "evaluate":
        with torch.no_grad():
            rnd.write_scores(model(torch.from_numpy(rnd.holdout_features)).reshape(-1).numpy())
        return
    params = rnd.parameters
    x, y = torch.from_numpy(rnd.features), torch.from_numpy(rnd.labels)
    loss = nn.BCEWithLogitsLoss(reduction="sum")
    if params["unit"] == "record":
        sums, batch = clipped_gradient_sum(model, loss, x, y, params["sampling_rate"], params["clipping_bound"])
        rnd.write_update({k: v.numpy() for k, v in sums.items()}, batch_size=batch)
    else:
        start = {k: v.detach().clone() for k, v in model.state_dict().items()}
        optimizer = torch.optim.SGD(model.parameters(), lr=params["local_learning_rate"])
        for _ in range(params["local_epochs"]):
            for idx in torch.randperm(len(y)).split(params["batch_size"]):
                optimizer.zero_grad()
                (loss(model(x[idx]).reshape(-1), y[idx]) / len(idx)).backward()
                optimizer.step()
        rnd.write_update({k: (v - start[k]).numpy() for k, v in model.state_dict().items()})


if __name__ == "__main__":
    main()
