"""Part I's pages: each chapter calls one of these modules with a book trace and the model.

``book_traces`` (the traces the pages use), ``walkthrough`` (nine steps), ``block`` (one
block up close), ``explorer`` (the vocabulary map), ``compare`` (GPT-2 and Llama),
``trace_plots`` (verification figures), ``tokenizer_tables`` (the tokenizer box's tables).
"""
