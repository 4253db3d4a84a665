"""``llmbook bench``: speed and memory, each measured against a baseline from the same run.

- :mod:`.run`: the groups and the printed table (capture, BPE, tiny-model steps);
- :mod:`.widget`: the in-page engines' training step (Node, and Chromium's WebGPU);
- :mod:`.book`: the book build, cold, warm and touched, with peak memory;
- :mod:`.browser`: a loopback server and Debian's headless Chromium, for the rows that need a browser.
"""
