"""Test helpers the package's own commands also use (``llmbook bench``): a fake Hugging Face hub.

Not for readers' code: nothing here is part of the book's public face.
"""
