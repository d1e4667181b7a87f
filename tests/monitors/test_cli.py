"""``wirewatch watchlist check|test|eval`` and ``wirewatch detect`` through the real entry point."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.monitors.conftest import SAMPLE
from wirewatch.cli import main

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


Run = Callable[..., Done]


@pytest.fixture
def wirewatch(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Done]:
    """Run the ``wirewatch`` entry point in this process (the spaCy model loads once)."""

    def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Done:
        monkeypatch.setattr(sys, "argv", ["wirewatch", *args])
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin or ""))
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return Done(code, out, err)

    return run


def test_entry_point_refuses_python_tags_in_a_subprocess(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    bad = tmp_path / "evil.yaml"
    bad.write_text(f'!!python/object/apply:os.system ["touch {marker}"]\n')
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from wirewatch.cli import main; main()",
            "watchlist",
            "check",
            str(bad),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr == (
        f"{bad}:1:1 (document): could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object/apply:os.system'\n"
    )
    assert not marker.exists()


def test_check_valid_files_exit_zero(wirewatch: Run) -> None:
    done = wirewatch("watchlist", "check", str(SAMPLE))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{SAMPLE}: ok (3 topics, sha256:")


def test_check_reports_every_error_line_and_exits_two(wirewatch: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("topics:\n  - id: t\n    any: []\n    near: {terms: [a, b], within: 0}\n")
    done = wirewatch("watchlist", "check", str(SAMPLE), str(bad))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"{bad}:3:10 topics[0].any: must not be empty",
        f"{bad}:4:35 topics[0].near.within: must be >= 1",
    ]
    assert f"{SAMPLE}: ok" in done.stdout


def test_detect_text(wirewatch: Run) -> None:
    done = wirewatch(
        "detect", "--watchlist", str(SAMPLE), "--text", "Musk urges pause of giant AI experiments"
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["id"] == "text"
    assert [m["topic"] for m in result["matches"]] == ["ai-moratorium"]
    assert {"topic", "evidence", "snippet"} <= set(result["matches"][0])
    assert {"text": "Elon Musk", "label": "PERSON"} in result["entities"]


def test_detect_jsonl_from_stdin_with_env_watchlist(wirewatch: Run, tmp_path: Path) -> None:
    lines = [
        {"id": "a", "title": "Baidu unveils Ernie Bot", "summary": "A ChatGPT rival."},
        {"id": "b", "title": "Weather", "published": "2023-03-01T00:00:00Z", "source": "x"},
        {"id": 7, "title": "Numeric id"},
    ]
    stdin = "\n".join(json.dumps(line) for line in lines) + "\n\n"
    done = wirewatch(
        "detect", "--jsonl", "-", stdin=stdin, env={"WIREWATCH_WATCHLIST": str(SAMPLE)}
    )
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["id"], [m["topic"] for m in r["matches"]]) for r in results] == [
        ("a", ["china-llm"]),
        ("b", []),
        ("7", []),
    ]


def test_detect_skips_bad_lines_and_says_so(wirewatch: Run, tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": "a", "title": "Fine"}\nnot json\n{"title": "no id"}\n')
    done = wirewatch("detect", "--watchlist", str(SAMPLE), "--jsonl", str(path))
    assert done.returncode == 1
    assert [json.loads(line)["id"] for line in done.stdout.splitlines()] == ["a"]
    assert f"{path}:2:" in done.stderr and f"{path}:3: needs 'id'" in done.stderr


def test_detect_needs_exactly_one_input(wirewatch: Run) -> None:
    done = wirewatch("detect", "--watchlist", str(SAMPLE))
    assert done.returncode == 2
    assert "exactly one of --text or --jsonl" in done.stderr


def test_detect_refuses_an_invalid_watchlist(wirewatch: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("topics: []\n")
    done = wirewatch("detect", "--watchlist", str(bad), "--text", "x")
    assert done.returncode == 2
    assert f"{bad}:1:9 topics: must not be empty" in done.stderr


def test_watchlist_test_explains(wirewatch: Run) -> None:
    done = wirewatch(
        "watchlist", "test", str(SAMPLE), "--text", "Advertisers pause spending on Twitter ads"
    )
    assert done.returncode == 0, done.stderr
    assert "no match ai-moratorium" in done.stdout
    assert "exclude[0]: true" in done.stdout


def test_watchlist_test_says_what_was_found_and_what_is_missing(wirewatch: Run) -> None:
    done = wirewatch(
        "watchlist",
        "test",
        str(SAMPLE),
        "--text",
        "Experts want a halt. Artificial intelligence grows.",
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    at = lines.index("no match ai-moratorium")
    assert lines[at + 1 : at + 6] == [
        "    rules[0]: false",
        '        false  rules[0].same_sentence: found "halt" (title), '
        '"Artificial intelligence" (title), but not in one sentence',
        "    rules[1]: false (none of its terms found)",
        "    exclude[0]: false",
        '        false  exclude[0].near: found "halt" (title); '
        "missing one of [ads, advertising, advertisers] within 6 words",
    ]


def test_watchlist_test_json(wirewatch: Run) -> None:
    done = wirewatch(
        "watchlist", "test", str(SAMPLE), "--json", "--text", "Advertisers pause Twitter ads"
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    moratorium = next(t for t in data["topics"] if t["topic"] == "ai-moratorium")
    assert moratorium["matched"] is False
    veto = next(b for b in moratorium["blocks"] if b["block"] == "exclude[0]")
    assert veto["state"] == "true"
    assert [p["found"] for p in veto["conditions"][0]["parts"]] == [
        [{"text": "pause", "field": "title"}],
        [{"text": "Advertisers", "field": "title"}, {"text": "ads", "field": "title"}],
    ]


@pytest.fixture
def labeled(tmp_path: Path) -> tuple[Path, Path]:
    articles = tmp_path / "articles.jsonl"
    labels = tmp_path / "labels.jsonl"
    rows = [
        ("tp", "Baidu launches Ernie Bot", ["china-llm"]),
        ("fp", "Alibaba's Tongyi Qianwen is just a chatbot name in a quiz", []),
        ("fn", "Chinese firm SenseTime shows SenseChat", ["china-llm"]),
        ("tn", "Weather is fine", None),
    ]
    articles.write_text("".join(json.dumps({"id": i, "title": t}) + "\n" for i, t, _ in rows))
    labels.write_text(
        "".join(json.dumps({"id": i, "topics": x}) + "\n" for i, _, x in rows if x is not None)
        + json.dumps({"id": "ghost", "topics": ["unknown-topic"]})
        + "\n"
    )
    return articles, labels


def test_eval_prints_figures_and_misses(wirewatch: Run, labeled: tuple[Path, Path]) -> None:
    articles, labels = labeled
    done = wirewatch(
        "watchlist",
        "eval",
        "--watchlist",
        str(SAMPLE),
        "--articles",
        str(articles),
        "--labels",
        str(labels),
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "china-llm      rules        1    1    1      0.500   0.500  0.500" in out
    assert "(no examples: rules only)" in out
    assert "false positives of china-llm (1):\n  fp  Alibaba's Tongyi Qianwen" in out
    assert "false negatives of china-llm (1):\n  fn  Chinese firm SenseTime" in out
    assert "labels name topics the watchlist does not have: unknown-topic (1)" in out
    assert "1 labeled ids have no article: ghost" in out


def test_eval_json(wirewatch: Run, labeled: tuple[Path, Path]) -> None:
    articles, labels = labeled
    done = wirewatch(
        "watchlist",
        "eval",
        "--watchlist",
        str(SAMPLE),
        "--json",
        "--articles",
        str(articles),
        "--labels",
        str(labels),
    )
    figures = json.loads(done.stdout)["topics"]["china-llm"]
    assert (figures["tp"], figures["fp"], figures["fn"]) == (1, 1, 1)
    assert figures["false_positives"] == ["fp"] and figures["false_negatives"] == ["fn"]
    assert json.loads(done.stdout)["topics"]["ai-moratorium"]["precision"] == 1.0


def test_eval_reads_judgments_and_draws_a_plot(
    wirewatch: Run, labeled: tuple[Path, Path], tmp_path: Path
) -> None:
    articles, labels = labeled
    feedback = tmp_path / "feedback.jsonl"
    # A judgment on one topic only: "fp" no longer counts against china-llm's other figures.
    feedback.write_text('{"id": "fp", "judgments": {"china-llm": true}}\n')
    plot = tmp_path / "out.png"
    done = wirewatch(
        "watchlist", "eval", "--watchlist", str(SAMPLE), "--articles", str(articles),
        "--labels", str(labels), "--labels", str(feedback), "--plot", str(plot),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "china-llm      rules        2    0    1      1.000   0.667  0.800" in done.stdout
    assert (
        "1 label contradicts an earlier line (the later line counts): fp china-llm" in done.stdout
    )
    assert plot.read_bytes()[:4] == b"\x89PNG" and f"plot written to {plot}" in done.stderr


def test_eval_refuses_a_bad_label_line_and_a_bad_sweep(
    wirewatch: Run, labeled: tuple[Path, Path], tmp_path: Path
) -> None:
    articles, _ = labeled
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "judgments": {"china-llm": "yes"}}\n')
    args = ["watchlist", "eval", "--watchlist", str(SAMPLE), "--articles", str(articles)]
    done = wirewatch(*args, "--labels", str(bad))
    assert done.returncode == 2
    assert f"{bad}:1: invalid label line: 'judgments' must map topic ids to true" in done.stderr
    done = wirewatch(*args, "--labels", str(bad), "--sweep", "0.8:0.3:0.1")
    assert done.returncode == 2 and "needs FROM <= TO" in done.stderr


def test_tune_without_examples_has_nothing_to_change(
    wirewatch: Run, labeled: tuple[Path, Path]
) -> None:
    articles, labels = labeled
    before = SAMPLE.read_text()
    done = wirewatch(
        "watchlist", "tune", "--watchlist", str(SAMPLE), "--articles", str(articles),
        "--labels", str(labels), "--min-precision", "0.9", "--write",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "china-llm: no examples, rules only: nothing to tune" in done.stdout
    assert done.stdout.rstrip().endswith("nothing to change")
    assert SAMPLE.read_text() == before


# --- the semantic stage for real: eval, tune and test on a tiny labeled set with examples --------

SEMANTIC_WATCHLIST = """\
# a topic whose rules know only "pause"/"moratorium" next to "AI"
topics:
  - id: pause
    rules:
      - near: {terms: [[pause, moratorium], [{text: AI, case_sensitive: true}]], within: 5}
    examples:
      - Tech leaders call for a six-month pause on training giant AI systems
      - An open letter urges labs to halt advanced artificial intelligence experiments
      - Researchers demand a moratorium on developing AI more powerful than GPT-4
    semantic:
      threshold: 0.90   # too strict on purpose
      gate: [artificial intelligence, AI, slowdown, letter, labs]
"""
SEMANTIC_ARTICLES = [
    ("r1", "Experts back an AI pause", True),
    ("r2", "A moratorium on AI gains support in Brussels", True),
    ("p1", "Scientists sign letter to stop building more powerful artificial intelligence", True),
    ("p2", "Leaders urge a slowdown in the race to build advanced artificial intelligence", True),
    ("p3", "Open letter asks AI labs to halt work on systems beyond GPT-4", True),
    ("n1", "Musk warns that artificial intelligence is a danger to civilisation", False),
    ("n2", "AI labs release a new coding assistant", False),
    ("n3", "Local bakery wins prize for its sourdough bread", False),
    ("n4", "Streaming service pauses price rise after letter from regulators", False),
    ("n5", "New artificial intelligence model tops benchmark for translation", False),
]


@pytest.fixture
def semantic_set(tmp_path: Path) -> tuple[Path, Path, Path]:
    watchlist = tmp_path / "w.yaml"
    watchlist.write_text(SEMANTIC_WATCHLIST)
    articles = tmp_path / "articles.jsonl"
    articles.write_text(
        "".join(json.dumps({"id": i, "title": t}) + "\n" for i, t, _ in SEMANTIC_ARTICLES)
    )
    labels = tmp_path / "labels.jsonl"
    labels.write_text(
        "".join(
            json.dumps({"id": i, "judgments": {"pause": positive}}) + "\n"
            for i, _, positive in SEMANTIC_ARTICLES
        )
    )
    return watchlist, articles, labels


@pytest.mark.model
def test_eval_with_the_real_model_shows_what_the_examples_add(
    wirewatch: Run, semantic_set: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    watchlist, articles, labels = semantic_set
    plot = tmp_path / "sweep.png"
    done = wirewatch(
        "watchlist", "eval", "--watchlist", str(watchlist), "--articles", str(articles),
        "--labels", str(labels), "--json", "--plot", str(plot),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    pause = json.loads(done.stdout)["topics"]["pause"]
    assert pause["threshold"] == 0.9 and pause["has_examples"] is True
    rules, combined = pause["modes"]["rules"], pause["modes"]["combined"]
    assert (rules["tp"], rules["fp"], rules["fn"]) == (2, 0, 3)
    assert (combined["tp"], combined["fp"]) == (2, 0)  # nothing reaches 0.90
    # Somewhere in the sweep the examples catch every paraphrase without a false positive.
    assert any(
        p["combined"]["recall"] == 1.0 and p["combined"]["precision"] == 1.0 for p in pause["sweep"]
    )
    # The lowest thresholds let the AI-risk warning through: the trade-off is visible.
    assert pause["sweep"][0]["combined"]["fp"] >= 1
    assert plot.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.model
def test_tune_with_the_real_model_writes_a_threshold_that_holds(
    wirewatch: Run, semantic_set: tuple[Path, Path, Path]
) -> None:
    watchlist, articles, labels = semantic_set
    args = ["--watchlist", str(watchlist), "--articles", str(articles), "--labels", str(labels)]
    done = wirewatch("watchlist", "tune", *args, "--min-precision", "1.0")
    assert done.returncode == 0, done.stderr
    assert "(not written: add --write to apply" in done.stdout
    assert watchlist.read_text() == SEMANTIC_WATCHLIST  # a dry run by default
    done = wirewatch("watchlist", "tune", *args, "--min-precision", "1.0", "--write")
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("pause "))
    current, proposed = row.split()[3:5], row.split()[6:9]
    assert current[0] == "0.900" and proposed[1:] == ["1.000", "1.000"]
    written = watchlist.read_text()
    # Only the number changed: comments and layout stay.
    assert written.replace(f"threshold: {float(proposed[0]):g}", "threshold: 0.90") == (
        SEMANTIC_WATCHLIST
    )
    evaluated = wirewatch("watchlist", "eval", *args, "--json")
    pause = json.loads(evaluated.stdout)["topics"]["pause"]
    assert (pause["precision"], pause["recall"]) == (1.0, 1.0)
    # The arithmetic agrees with the detector itself: it now alerts on exactly the positives.
    detected = wirewatch("detect", "--watchlist", str(watchlist), "--jsonl", str(articles))
    matched = {
        result["id"]
        for result in map(json.loads, detected.stdout.splitlines())
        if result["matches"]
    }
    assert matched == {i for i, _, positive in SEMANTIC_ARTICLES if positive}
    explained = wirewatch("watchlist", "test", str(watchlist), "--text", SEMANTIC_ARTICLES[3][1])
    assert "MATCH    pause" in explained.stdout
    assert "semantic: 0." in explained.stdout and "passes; gate held" in explained.stdout
    assert "nearest example " in explained.stdout
