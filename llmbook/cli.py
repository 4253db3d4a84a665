"""The ``llmbook`` command: inspect the setup, capture traces, run benchmarks."""

from __future__ import annotations

import argparse
import json
import sys


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args) or 0
    except (ValueError, RuntimeError) as err:      # bad input: one clear line, no traceback
        print(f"llmbook: error: {err}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="llmbook", description=__doc__)
    sub = p.add_subparsers(metavar="COMMAND")

    info = sub.add_parser("info", help="versions, and which weights and tokenizers are available")
    info.set_defaults(func=_info)

    cap = sub.add_parser("capture", help="capture a trace (or every trace the book uses) to a folder")
    cap.add_argument("model", nargs="?", choices=["distilgpt2", "tinyllama"])
    cap.add_argument("prompt", nargs="?")
    cap.add_argument("--book", action="store_true", help="capture every trace the book's pages use")
    cap.add_argument("--out", required=True, help="folder to write into (usable as LLMBOOK_TRACES)")
    cap.add_argument("--weights", choices=["real", "standin", "auto"])
    cap.add_argument("--max-new-tokens", type=int, default=8)
    cap.add_argument("--temperature", type=float, default=0.0)
    cap.add_argument("--top-k", type=int)
    cap.add_argument("--top-p", type=float)
    cap.add_argument("--seed", type=int, default=0)
    cap.add_argument("--no-chat", action="store_true", help="TinyLlama: skip the chat template")
    cap.set_defaults(func=_capture)

    tiny = sub.add_parser("train-tiny", help="learn the BPE and train Part II's tiny model (cached)")
    tiny.add_argument("--out", help="also copy the checkpoint and merges into this folder")
    tiny.set_defaults(func=_train_tiny)

    bench = sub.add_parser("bench", help="measure capture, BPE, training and book-build speed against baselines")
    bench.add_argument("--json", help="also write the results to this JSON file")
    bench.add_argument("--quick", action="store_true", help="distilgpt2 only, fewer repeats")
    bench.add_argument("--only", choices=["capture", "bpe", "tiny", "live", "llama", "load", "book", "hosted"], help="run one group")
    bench.set_defaults(func=_bench)
    return p


def _info(args) -> int:
    from .lm.provenance import versions
    from .lm.specs import SPECS
    from .lm.store import cache_dir
    from .lm.tokenizers import offline_tokenizer
    from .lm.weights import choose_weights

    for k, v in versions().items():
        print(f"{k:>14}: {v}")
    print(f"{'trace cache':>14}: {cache_dir()}")
    for name, spec in SPECS.items():
        choice = choose_weights(spec, "auto")
        try:
            offline_tokenizer(spec)
            tok = "real tokenizer available"
        except RuntimeError as err:
            tok = f"tokenizer missing: {err}"
        print(f"{name:>14}: weights -> {choice.kind} ({choice.source}); {tok}")
    return 0


def _capture(args) -> int:
    from pathlib import Path

    from tqdm import tqdm

    from .lm import store
    from .part1.book_traces import BOOK_TRACES
    from .lm.capture import Sampling
    from .lm.tokenizers import check_prompt

    if args.book:
        jobs = list(BOOK_TRACES.values())
    elif args.model and args.prompt:
        sampling = Sampling(args.temperature, args.top_k, args.top_p, args.seed)
        settings = dict(max_new_tokens=args.max_new_tokens, sampling=sampling)
        if args.no_chat:
            settings["chat"] = False
        jobs = [(args.model, args.prompt, settings)]
    else:
        raise ValueError("give MODEL and PROMPT, or --book")
    for _, prompt, _ in jobs:
        check_prompt(prompt)
    out = Path(args.out)
    for model, prompt, settings in tqdm(jobs, desc="capturing", unit="trace"):
        tr = store.get_trace(model, prompt, weights=args.weights, into=out, **settings)
        print(f"{model}: {len(tr.token_ids)} prompt tokens, generated {tr.generated_tokens!r}, "
              f"{tr.provenance['weights_label']}")
    print(f"traces in {out}: use LLMBOOK_TRACES={out}")
    return 0


def _train_tiny(args) -> int:
    import shutil
    from pathlib import Path

    from .tiny.artifacts import book_artifacts, load_history

    folder = book_artifacts(progress=True)
    h = load_history(folder)
    print(f"artifacts in {folder}")
    print(f"BPE {h['bpe_seconds']:.1f} s; training {h['seconds']:.0f} s at {h['tokens_per_second']:,.0f} tokens/s; "
          f"loss train {h['train_loss'][-1]:.3f}, validation {h['val_loss'][-1]:.3f} "
          f"(unigram baseline {h['unigram_loss']:.3f}, uniform {h['uniform_loss']:.3f})")
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        for name in ("checkpoint.json", "merges.json", "history.json"):
            shutil.copyfile(folder / name, Path(args.out) / name)
    return 0


def _bench(args) -> int:
    from .bench.run import run

    results = run(quick=args.quick, only=args.only)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
