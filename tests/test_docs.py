"""The docs' numbers are the commands' numbers.

1. Every ``$ shenjing ...`` block in docs/*.md with its printed output is run again and must print the
   same text (gradient checks: the same table, with every error below the tolerance, since their last
   digits depend on float rounding inside the kernels).
2. Numbers the prose quotes (the README's, learn.md's, learn-pictures.md's) are compared with the
   output of the command they come from, in the table ``QUOTES``.
3. Every ``shenjing`` command line the README shows is a real command: the quick ones run and exit 0.

The slow ones (LeNet-5's accuracy across seeds, its training time) run only with
``SHENJING_SLOW_DOCS=1``.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from shenjing.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))
NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?:e-?\d+)?")
SLOW = os.environ.get("SHENJING_SLOW_DOCS") == "1"


def run_cli(args: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            code = main(args)
        except SystemExit as stop:
            code = stop.code
    return code, out.getvalue()


def lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip().splitlines()]


# -- 1. the transcripts ------------------------------------------------------------------------------

@dataclass
class Transcript:
    doc: Path
    command: str
    output: str
    files: dict[str, str]  # file name -> the code block before the command that the command reads


def _transcripts() -> list[Transcript]:
    found = []
    for doc in [*DOCS, ROOT / "README.md"]:
        text = doc.read_text(encoding="utf-8")
        blocks = list(re.finditer(r"```(\w*)\n(.*?)```", text, re.S))
        for i, block in enumerate(blocks):
            body = block.group(2)
            if not body.startswith("$ shenjing "):
                continue
            command, _, output = body.partition("\n")
            files = {}
            for word in shlex.split(command[2:]):
                if word.endswith((".json", ".py")):
                    files[word] = _defining_block(text, blocks[:i], word)
            found.append(Transcript(doc, command[2:], output, files))
    return found


def _defining_block(text: str, before: list[re.Match], name: str) -> str:
    """The last code block before the command that starts with ``# NAME`` or follows a mention of `NAME`."""
    for block in reversed(before):
        body = block.group(2)
        if body.startswith(f"# {name}") or f"`{name}`" in text[max(0, block.start() - 300):block.start()]:
            return body
    raise AssertionError(f"no code block defines {name}")


TRANSCRIPTS = _transcripts()
SCIENTIFIC = re.compile(r"\d(?:\.\d+)?e-\d+")


def test_the_docs_hold_transcripts():
    assert len(TRANSCRIPTS) >= 10


@pytest.mark.parametrize("transcript", TRANSCRIPTS, ids=[f"{t.doc.name}: {t.command}" for t in TRANSCRIPTS])
def test_a_transcript_prints_what_the_docs_show(transcript, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, body in transcript.files.items():
        (tmp_path / name).write_text(body, encoding="utf-8")
    args = shlex.split(transcript.command)[1:]
    code, printed = run_cli(args)
    assert code == 0
    expected, got = lines(transcript.output), lines(printed)
    if args[0] == "gradcheck":
        # the errors' last digits depend on rounding inside the kernels: same table, errors below 1e-6
        for line in got:
            if line.endswith("correct") or line.startswith("PASSED"):
                assert all(float(v) < 1e-6 for v in SCIENTIFIC.findall(line.split("tolerance")[0])), line
        expected = [SCIENTIFIC.sub("E", line) for line in expected]
        got = [SCIENTIFIC.sub("E", line) for line in got]
    assert got == expected


# -- 2. numbers quoted in the prose -------------------------------------------------------------------

@dataclass
class Quote:
    doc: str          # the file, relative to the repository
    text: str         # a phrase of it that quotes numbers
    command: str      # the command whose output holds them
    slow: bool = False


QUOTES = [
    Quote("docs/learn.md", "w1 = 0.2723, w2 = 0.873, w3 = 0.09907 and w6 = 0.5926", "trace bp-example"),
    Quote("docs/learn.md", "from 0.1903 to 0.182", "trace bp-example"),
    Quote("docs/learn.md", "0.77, −0.11, 0.11", "featuremaps xo-demo --out xo.png"),
    Quote("docs/learn.md", "= 28", "explain conv --n 32 --f 5 --p 0 --s 1"),
    Quote("docs/learn.md", "(456 for conv1)", "summary course-cnn"),
    Quote("docs/learn-pictures.md", "6 epochs, 100%", "boundary perceptron --data and --out b.png"),
    Quote("docs/learn-pictures.md", "lowest at epoch 14", "curves demo --out c.png"),
    Quote("README.md", "AND in 6 epochs, OR in 4, NOT in 3", "train perceptron"),
    Quote("README.md", "(456 for conv1)", "summary course-cnn"),
    Quote("README.md", "97.6%", "train lenet --quiet --out lenet.shenjing", slow=True),
    Quote("README.md", "test accuracy 97.60%, loss 0.0748", "train lenet --quiet --out lenet.shenjing", slow=True),
    Quote("docs/learn-pictures.md", "97.6% test accuracy", "train lenet --quiet --out lenet.shenjing", slow=True),
]


def _numbers(text: str) -> list[float]:
    return [float(n.replace(",", "")) for n in NUMBER.findall(text.replace("−", "-"))]


def _decimals(number: str) -> int:
    return len(number.split(".")[1]) if "." in number else 0


@pytest.mark.parametrize("quote", QUOTES, ids=[f"{q.doc}: {q.text}" for q in QUOTES])
def test_a_quoted_number_is_the_commands(quote, tmp_path, monkeypatch):
    if quote.slow and not SLOW:
        pytest.skip("slow: set SHENJING_SLOW_DOCS=1")
    if "featuremaps" in quote.command or "boundary" in quote.command or "curves" in quote.command:
        pytest.importorskip("matplotlib")
    assert quote.text in (ROOT / quote.doc).read_text(encoding="utf-8"), "the phrase is gone from the doc"
    monkeypatch.chdir(tmp_path)
    code, printed = run_cli(shlex.split(quote.command))
    assert code == 0
    printed_numbers = _numbers(printed)
    for number in NUMBER.findall(quote.text.replace("−", "-")):
        value, places = float(number.replace(",", "")), _decimals(number)
        assert any(round(p, places) == value for p in printed_numbers), f"{number} is not in:\n{printed}"


@pytest.mark.skipif(not SLOW, reason="slow: set SHENJING_SLOW_DOCS=1")
def test_the_readme_seed_range_of_lenet(tmp_path, monkeypatch):
    """The README's accuracy range over seeds 0-4. (Its seconds are a speed figure: benchmarks/lenet_recipe.py
    measures the main job against PyTorch.)"""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    low, high = map(float, re.search(r"(\d\d\.\d)-(\d\d\.\d)% for seeds 0-4", readme).groups())
    monkeypatch.chdir(tmp_path)
    accuracies = []
    for seed in range(5):
        code, printed = run_cli(["train", "lenet", "--quiet", "--seed", str(seed)])
        accuracies.append(float(printed.split("test accuracy: ")[1].split("%")[0]))
    assert (min(accuracies), max(accuracies)) == (low, high)


# -- 3. the README's commands exist ------------------------------------------------------------------

def _readme_commands() -> list[str]:
    """The command lines the README shows: in backticks, and the lines of its bash blocks (without comments)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    inline = re.findall(r"`(shenjing [^`|\n]*?)`", text)
    blocks = [line.split("#")[0].strip() for block in re.findall(r"```bash\n(.*?)```", text, re.S)
              for line in block.splitlines()]
    return sorted({c for c in inline + blocks if c.startswith("shenjing ")})


README_COMMANDS = _readme_commands()
QUICK = ("summary", "explain", "trace", "graph", "gradcheck", "boundary", "optimizers", "regularization",
         "gradients", "featuremaps xo-demo", "curves demo", "train perceptron", "train xor", "--help", "--version")


def test_the_readme_names_every_command():
    code, usage = run_cli(["--help"])
    commands = re.search(r"\{([a-z,]+)\}", usage).group(1).split(",")
    assert code == 0 and "train" in commands and "regularization" in commands
    shown = {c.split()[1] for c in README_COMMANDS if len(c.split()) > 1}
    assert set(commands) <= shown, f"missing from the README: {set(commands) - shown}"


@pytest.mark.parametrize("command", [c for c in README_COMMANDS if any(c[9:].startswith(q) for q in QUICK)
                                     and not re.search(r"\b[A-Z_]{3,}\b", c)])
def test_a_quick_readme_command_runs(command, tmp_path, monkeypatch):
    if any(word in command for word in ("featuremaps", "boundary", "curves", "optimizers", "regularization",
                                        "gradients")):
        pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    args = [a for a in shlex.split(command)[1:] if not a.endswith("...")]
    if args[0] in ("boundary", "gradients", "optimizers", "regularization", "featuremaps", "curves") \
            and "--out" not in args:
        args += ["--out", "picture.png"]
    code, _ = run_cli(args)
    assert code == 0, command
