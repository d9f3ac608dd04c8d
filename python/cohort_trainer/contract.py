"""Trainer contract 2: the files and environment cohort-participant hands a trainer."""
import json
import os

import numpy as np
from safetensors.numpy import load_file, save_file

CONTRACT_VERSION = 2


class ContractError(RuntimeError):
    """The participant asked for something this helper does not speak."""


class Round:
    """One invocation of the trainer by cohort-participant.

    Attributes: ``task`` ("train" or "evaluate"), ``model`` (dict name -> float32 array, the
    policy's tensors, in ``tensor_names`` order), ``parameters`` (the round's JSON: unit,
    sampling_rate, clipping_bound, local_epochs, local_learning_rate, batch_size, model, round,
    contract), and the data: ``features``/``labels`` (training split) for "train",
    ``holdout_features``/``holdout_labels`` for "evaluate".
    """

    def __init__(self, environ=None):
        env = os.environ if environ is None else environ
        contract = int(env.get("COHORT_CONTRACT", "1"))
        if contract != CONTRACT_VERSION:
            raise ContractError(
                f"cohort-participant speaks trainer contract {contract}; this helper speaks {CONTRACT_VERSION}. "
                "Upgrade cohort-participant (docs/TRAINER.md)")
        self.task = env["COHORT_TASK"]
        self.output = env["COHORT_OUTPUT"]
        model_file = env["COHORT_MODEL"]
        self.model = load_file(model_file)
        with open(model_file, "rb") as handle:  # keep the file's tensor order (the flat-vector order)
            header_length = int.from_bytes(handle.read(8), "little")
            header = json.loads(handle.read(header_length))
        self.tensor_names = [name for name, entry in sorted(
            ((k, v) for k, v in header.items() if k != "__metadata__"), key=lambda item: item[1]["data_offsets"][0])]
        self.parameters = {}
        if self.task == "train":
            with open(env["COHORT_PARAMETERS"]) as handle:
                self.parameters = json.load(handle)
            data = load_file(env["COHORT_DATA"])
            self.features, self.labels = data["features"].astype(np.float64), data["labels"].astype(np.float64)
        elif self.task == "evaluate":
            data = load_file(env["COHORT_HOLDOUT"])
            self.holdout_features = data["features"].astype(np.float64)
            self.holdout_labels = data["labels"].astype(np.float64)
        else:
            raise ContractError(f"unknown COHORT_TASK {self.task!r}; expected train or evaluate")

    def write_update(self, tensors, batch_size=None):
        """Writes the training answer: ``tensors`` (name -> array with the model's shapes) and,
        for the record unit, the realised Poisson ``batch_size``."""
        missing = [name for name in self.tensor_names if name not in tensors]
        if missing:
            raise ContractError(f"the answer lacks tensor(s) {missing}")
        out = {}
        for name in self.tensor_names:
            value = np.asarray(tensors[name], dtype=np.float32)
            if value.shape != self.model[name].shape:
                raise ContractError(f"tensor {name!r} has shape {value.shape}; the model needs {self.model[name].shape}")
            out[name] = np.ascontiguousarray(value)
        metadata = {"cohort.contract": str(CONTRACT_VERSION)}
        if self.parameters.get("unit") == "record":
            if batch_size is None:
                raise ContractError("the record unit needs the realised batch size")
            metadata["cohort.batch_size"] = str(int(batch_size))
        save_file(out, self.output, metadata=metadata)

    def write_scores(self, scores, probabilities=False):
        """Writes the evaluate hook's answer: one logit per holdout record, or with
        ``probabilities=True`` one probability of the positive class in [0, 1] (docs/TRAINER.md)."""
        scores = np.asarray(scores, dtype=np.float32).reshape(-1)
        if scores.shape[0] != self.holdout_labels.shape[0]:
            raise ContractError(f"{scores.shape[0]} scores for {self.holdout_labels.shape[0]} holdout records")
        if not np.all(np.isfinite(scores)):
            raise ContractError("scores contain NaN or infinity")
        if probabilities and (scores.min(initial=0) < 0 or scores.max(initial=0) > 1):
            raise ContractError("probabilities must lie in [0, 1]; write logits without probabilities=True")
        metadata = {"cohort.contract": str(CONTRACT_VERSION)}
        if probabilities:
            metadata["cohort.scores"] = "probabilities"
        save_file({"scores": np.ascontiguousarray(scores)}, self.output, metadata=metadata)
