import numpy as np

from llmbook import capture
from llmbook.lm.lens import logit_lens
from tests.conftest import PROMPTS


def test_last_layer_of_the_lens_is_the_model_output(small_lm):
    tr = capture(small_lm, PROMPTS[small_lm.name], alternatives=5)
    L = small_lm.model.config.num_hidden_layers
    assert tr.lens_top_ids.shape == (L + 1, len(tr.token_ids), 5)
    np.testing.assert_array_equal(tr.lens_top_ids[-1, :, 0], tr.logits.argmax(-1))
    np.testing.assert_allclose(tr.lens_final_prob[-1], tr.probs.max(-1), rtol=1e-5)
    np.testing.assert_allclose(tr.lens_top_probs[:, :, 0] >= tr.lens_final_prob, True)


def test_chunking_does_not_change_the_lens(small_lm):
    tr = capture(small_lm, PROMPTS[small_lm.name], lens=False)
    a = logit_lens(small_lm, tr.residual, k=3, chunk_rows=1)
    b = logit_lens(small_lm, tr.residual, k=3, chunk_rows=1000)
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-5)
