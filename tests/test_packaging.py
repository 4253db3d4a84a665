"""The package as a reader gets it: a wheel and an sdist that carry their data, installed
in a fresh virtualenv outside the checkout, running a script downloaded from the built site."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

import llmbook

ROOT = Path(__file__).resolve().parents[1]
DATA = "llmbook/lm/data/llama-tokenizer.model"


def test_the_version_is_said_once():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["version"] == llmbook.__version__


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel",
                           "--outdir", str(out), str(ROOT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return out


@pytest.mark.slow
@pytest.mark.shipped
def test_the_wheel_and_the_sdist_carry_the_tokenizer_and_every_subpackage(dist):
    wheel = next(dist.glob("llmbook-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert DATA in names and "llmbook/lm/data/NOTICE.md" in names
    for pkg in ("lm", "figures", "part1", "tiny", "sphinxext", "bench", "testing"):
        assert f"llmbook/{pkg}/__init__.py" in names, pkg
    import tarfile

    sdist = next(dist.glob("llmbook-*.tar.gz"))
    assert any(n.endswith(DATA) for n in tarfile.open(sdist).getnames())


@pytest.mark.slow
@pytest.mark.shipped
def test_a_downloaded_gallery_script_runs_on_the_installed_wheel(dist, site, tmp_path):
    """A fresh venv outside the checkout, `pip install` of the wheel, no llmbook variable set."""
    script = next((site / "_downloads").rglob("plot_token_counts.py"))
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    torch = os.environ.get("LLMBOOK_TEST_TORCH", "torch==2.13.0")   # the CPU build this machine has
    wheel = next(dist.glob("llmbook-*.whl"))
    # --no-compile: no .pyc for torch's and transformers' thousands of modules up front; the one script run here
    # compiles only what it imports (the install is the same otherwise): torch alone 7.5 s instead of 26.7 s
    install = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-compile", torch, str(wheel)],
                             capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-3000:]
    work = tmp_path / "reader"
    work.mkdir()
    (work / script.name).write_bytes(script.read_bytes())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMBOOK_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))       # a machine with no hub
    done = subprocess.run([str(py), script.name], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "figure written to" in done.stdout and list(work.glob("*.html"))
    where = subprocess.run([str(py), "-c", "import llmbook; print(llmbook.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True).stdout
    assert str(env_dir) in where and str(ROOT) not in where
