"""A short description of a dataset, written by the prompt model (MIPROv2's data-aware proposal).

DSPy's `create_dataset_summary`: observations on the first batch, then up to 9 more batches with the
prior observations (a batch answering COMPLETE is skipped; five of those stop early), then a
2-3 sentence summary. Same signatures and wording.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from dspy_ash.modules._predict import Predict
from dspy_ash.optimizers._prompt_text import strip_prefix
from dspy_ash.settings import settings
from dspy_ash.signatures import InputField, OutputField, Signature

logger = logging.getLogger("dspy_ash.optimizers.mipro")


class ObservationSummarizer(Signature):
    """Given a series of observations I have made about my dataset, please summarize them into a brief 2-3 sentence summary which highlights only the most important details."""

    observations = InputField(desc="Observations I have made about my dataset")
    summary = OutputField(
        desc="Two to Three sentence summary of only the most significant highlights of my observations"
    )


class DatasetDescriptor(Signature):
    """Given several examples from a dataset please write observations about trends that hold for most or all of the samples. Some areas you may consider in your observations: topics, content, syntax, conciseness, etc. It will be useful to make an educated guess as to the nature of the task this dataset will enable. Don't be afraid to be creative"""

    examples = InputField(desc="Sample data points from the dataset")
    observations = OutputField(desc="Somethings that holds true for most or all of the data you observed")


class DatasetDescriptorWithPriorObservations(Signature):
    """Given several examples from a dataset please write observations about trends that hold for most or all of the samples. I will also provide you with a few observations I have already made.  Please add your own observations or if you feel the observations are comprehensive say 'COMPLETE' Some areas you may consider in your observations: topics, content, syntax, conciceness, etc. It will be useful to make an educated guess as to the nature of the task this dataset will enable. Don't be afraid to be creative"""

    examples = InputField(desc="Sample data points from the dataset")
    prior_observations = InputField(desc="Some prior observations I made about the data")
    observations = OutputField(
        desc="Somethings that holds true for most or all of the data you observed or COMPLETE if you have nothing to add"
    )


def order_input_keys_in_string(unordered_repr: str) -> str:
    """Sort the keys inside `input_keys={...}` so the prompt does not depend on set order."""

    def reorder(match: re.Match[str]) -> str:
        keys = sorted(key.strip() for key in match.group(1).split(","))
        return f"input_keys={{{', '.join(keys)}}}"

    return re.sub(r"input_keys=\{([^\}]+)\}", reorder, unordered_repr)


async def create_dataset_summary(trainset: list[Any], view_data_batch_size: int, prompt_model: Any) -> str:
    prompt_model = prompt_model or settings.lm
    upper = min(len(trainset), view_data_batch_size)
    with settings.context(lm=prompt_model):
        first = await Predict(DatasetDescriptor, n=1, temperature=1.0).acall(
            examples=order_input_keys_in_string(repr(trainset[0:upper]))
        )
    observations: str = first["observations"]
    skips = 0
    try:
        calls = 0
        for b in range(view_data_batch_size, len(trainset), view_data_batch_size):
            calls += 1
            if calls >= 10:
                break
            upper = min(len(trainset), b + view_data_batch_size)
            with settings.context(lm=prompt_model):
                output = await Predict(DatasetDescriptorWithPriorObservations, n=1, temperature=1.0).acall(
                    prior_observations=observations,
                    examples=order_input_keys_in_string(repr(trainset[b:upper])),
                )
            if len(output["observations"]) >= 8 and output["observations"][:8].upper() == "COMPLETE":
                skips += 1
                if skips >= 5:
                    break
                continue
            observations += output["observations"]
    except Exception as exc:  # DSPy keeps the observations gathered so far
        logger.info("Dataset observation failed (%r); summarising the observations so far.", exc)
    with settings.context(lm=prompt_model):
        summary = await Predict(ObservationSummarizer, n=1, temperature=1.0).acall(observations=observations)
    return strip_prefix(summary.summary)
