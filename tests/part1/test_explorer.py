import json

import numpy as np

from llmbook.part1.explorer import Explorer, dequantize, group_ids, quantize


def test_quantize_round_trip_is_within_a_step():
    xy = np.random.default_rng(0).normal(size=(1000, 2)).astype(np.float32)
    b64, box = quantize(xy)
    back = dequantize(b64, box)
    step = (xy.max(0) - xy.min(0)) / 65535
    assert np.all(np.abs(back - xy) <= step * 0.51 + 1e-6)


def test_explorer_for_a_small_model(small_lm):
    ex = Explorer.for_model(small_lm, "small")
    V = small_lm.model.config.vocab_size
    assert ex.xy.shape == (V, 2) and len(ex.tokens) == V
    assert 0 < ex.variance.sum() <= 1
    months = ex.groups["months"]
    assert len(months) >= 10 and all(ex.tokens[i].strip() in {
        "January", "February", "March", "April", "May", "June", "July", "August", "September",
        "October", "November", "December"} for i in months)


def test_tokens_cannot_break_out_of_the_data_script():
    xy = np.zeros((3, 2), np.float32)
    ex = Explorer("t", ["</script><script>alert(1)</script>", "<!--", "ok"], xy, np.array([0.5, 0.2]),
                  {"g": [2]}, True)
    html = ex._repr_html_()
    data = html.split('class="ex-data">')[1].rsplit("</script>", 1)[0]
    assert "<" not in data
    assert json.loads(data)["tokens"][0] == "</script><script>alert(1)</script>"


def test_group_ids_keep_single_token_words_only(small_lm):
    ids = group_ids(small_lm, {"g": ["January", "elephant"]})["g"]
    for i in ids:
        assert len(small_lm.tokenizer.encode(small_lm.tokens([i])[0], add_special_tokens=False)) >= 1
    assert 1 <= len(ids) <= 2


def test_axis_and_text_show_the_same_rounded_variance():
    ex = Explorer("t", ["a", "b"], np.zeros((2, 2), np.float32), np.array([0.00154, 0.1234]), {}, True)
    assert ex.variance_pct == ["0.15", "12"]
    assert ex.data()["variance"] == ["0.15", "12"]                # explorer.js prints these strings as they are


def test_chance_spread_of_random_groups_is_below_one():
    xy = np.random.default_rng(1).normal(size=(5000, 2)).astype(np.float32)
    ex = Explorer("t", ["a"] * 5000, xy, np.array([0.5, 0.2]), {}, True)
    low = ex.chance_spread(12)
    assert 0.4 < low < 1.0
