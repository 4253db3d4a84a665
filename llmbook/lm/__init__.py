"""A model and a pass: load distilgpt2 or TinyLlama (real or stand-in weights), capture every
intermediate of a forward pass, store it as a trace, and check it against the weights.

Modules: ``specs`` (the two models), ``weights`` (the policy, stand-ins), ``tokenizers``,
``checkpoint`` (safetensors streamed into a model), ``models`` (``load_model``), ``hooks``,
``capture``, ``trace``, ``store`` (the trace cache), ``lens``, ``provenance``, ``verify``,
``preflight`` (what a build needs). Nothing here imports from the book's pages.
"""
