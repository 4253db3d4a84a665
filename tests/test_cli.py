import subprocess
import sys


def _run(*args):
    return subprocess.run([sys.executable, "-m", "llmbook.cli", *args], capture_output=True, text=True)


def test_help_lists_the_commands():
    out = _run("--help")
    assert out.returncode == 0
    for cmd in ("info", "capture", "bench"):
        assert cmd in out.stdout


def test_capture_writes_a_loadable_trace(tmp_path):
    out = _run("capture", "distilgpt2", "Hello there", "--weights", "standin",
               "--max-new-tokens", "2", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "stand-in" in out.stdout
    from llmbook import Trace

    [path] = list(tmp_path.glob("distilgpt2-*.npz"))
    assert len(Trace.load(path).generated_ids) == 2


def test_bad_input_gives_one_clear_line(tmp_path):
    out = _run("capture", "distilgpt2", "   ", "--weights", "standin", "--out", str(tmp_path))
    assert out.returncode == 2
    assert out.stderr.strip() == "llmbook: error: the prompt is empty: give the model at least one token to read"
    assert "Traceback" not in out.stderr
