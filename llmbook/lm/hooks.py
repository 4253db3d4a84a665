"""Where each intermediate lives inside the real `transformers` modules.

Module paths mirror the checkpoint's parameter names (``transformer.h.3.attn.c_attn``
for GPT-2, ``model.layers.11.self_attn.q_proj`` for Llama), so a reader can find
every captured tensor in the model's own code. ``"in"`` records the module's first
input, ``"out"`` its output (first element when the module returns a tuple),
``"out1"`` the second element of a tuple output (attention probabilities).

Not handled: batched inputs (batch dimension 1 is dropped), cross-attention,
models with other module layouts.
"""

from __future__ import annotations

# field -> (module path, what to record); per-block paths are relative to the block
GLOBAL_POINTS = {
    "gpt2": {
        "tok_emb": ("transformer.wte", "out"),        # [T, d]
        "pos_emb": ("transformer.wpe", "out"),        # [T, d]
        "final_norm": ("transformer.ln_f", "out"),    # [T, d]
        "logits": ("lm_head", "out"),                 # [T, V]
    },
    "llama": {
        "tok_emb": ("model.embed_tokens", "out"),
        "final_norm": ("model.norm", "out"),
        "logits": ("lm_head", "out"),
    },
}

BLOCK_PREFIX = {"gpt2": "transformer.h", "llama": "model.layers"}

BLOCK_POINTS = {
    "gpt2": {
        "resid_in": ("", "in"),                # [T, d] residual entering the block
        "resid_out": ("", "out"),              # [T, d] residual leaving it
        "ln1_out": ("ln_1", "out"),            # [T, d]
        "qkv": ("attn.c_attn", "out"),         # [T, 3d]: Q | K | V
        "attn": ("attn", "out1"),              # [H, T, T] probabilities
        "heads_out": ("attn.c_proj", "in"),    # [T, d] heads concatenated, before c_proj
        "attn_out": ("attn.c_proj", "out"),    # [T, d]
        "resid_mid": ("ln_2", "in"),           # [T, d] residual after attention
        "ln2_out": ("ln_2", "out"),            # [T, d]
        "ffn_pre": ("mlp.c_fc", "out"),        # [T, d_ff] before GELU
        "ffn_act": ("mlp.act", "out"),         # [T, d_ff] after GELU
        "ffn_out": ("mlp.c_proj", "out"),      # [T, d]
    },
    "llama": {
        "resid_in": ("", "in"),
        "resid_out": ("", "out"),
        "ln1_out": ("input_layernorm", "out"),
        "q_pre_rope": ("self_attn.q_proj", "out"),   # [T, H*dh]
        "k_pre_rope": ("self_attn.k_proj", "out"),   # [T, Hkv*dh]
        "v": ("self_attn.v_proj", "out"),            # [T, Hkv*dh]
        "rope": ("self_attn", "rope"),               # (cos, sin) [T, dh] each
        "attn": ("self_attn", "out1"),
        "heads_out": ("self_attn.o_proj", "in"),
        "attn_out": ("self_attn.o_proj", "out"),
        "resid_mid": ("post_attention_layernorm", "in"),
        "ln2_out": ("post_attention_layernorm", "out"),
        "ffn_gate": ("mlp.gate_proj", "out"),        # [T, d_ff] before SiLU
        "ffn_up": ("mlp.up_proj", "out"),            # [T, d_ff]
        "ffn_act": ("mlp.act_fn", "out"),            # [T, d_ff] SiLU(gate)
        "ffn_hidden": ("mlp.down_proj", "in"),       # [T, d_ff] SiLU(gate) * up
        "ffn_out": ("mlp.down_proj", "out"),
    },
}

# fields every trace keeps whatever the filter says (CONTRACTS §3)
REQUIRED_BLOCK_FIELDS = ("resid_in", "resid_out", "attn")


class Recorder:
    """Registers hooks for the chosen fields and collects what they see."""

    def __init__(self, model, arch: str, fields: set[str], layers: set[int], n_layers: int):
        self.model, self.arch = model, arch
        self.seen: dict[str, object] = {}
        self._handles = []
        modules = dict(model.named_modules())
        for field, (path, what) in GLOBAL_POINTS[arch].items():
            if field in fields:
                self._hook(modules[path], field, what)
        for i in range(n_layers):
            for field, (rel, what) in BLOCK_POINTS[arch].items():
                if field in REQUIRED_BLOCK_FIELDS or (i in layers and field in fields):
                    path = f"{BLOCK_PREFIX[arch]}.{i}" + (f".{rel}" if rel else "")
                    self._hook(modules[path], f"blocks.{i}.{field}", what)

    def _hook(self, module, key: str, what: str) -> None:
        if what == "in":
            h = module.register_forward_pre_hook(self._pre(key), with_kwargs=True)
        elif what == "rope":
            h = module.register_forward_pre_hook(self._rope(key), with_kwargs=True)
        else:
            h = module.register_forward_hook(self._post(key, 1 if what == "out1" else 0))
        self._handles.append(h)

    def _pre(self, key):
        def hook(module, args, kwargs):
            self.seen[key] = (args[0] if args else kwargs["hidden_states"]).detach()
        return hook

    def _rope(self, key):
        def hook(module, args, kwargs):
            cos, sin = kwargs["position_embeddings"]
            self.seen[key] = (cos.detach(), sin.detach())
        return hook

    def _post(self, key, index):
        def hook(module, args, output):
            out = output[index] if isinstance(output, tuple) else output
            self.seen[key] = out.detach()
        return hook

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
