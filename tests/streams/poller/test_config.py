"""The feed list: strict schema, refused schemes with file:line:col, OPML, sharding."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.poller.config import (
    feeds_from_opml,
    load_feed_list,
    parse_feed_list,
    select_shard,
)
from wirewatch.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]


def test_example_feed_list_loads() -> None:
    feeds = load_feed_list(REPO / "deploy" / "feeds" / "example.yaml")
    assert len(feeds) >= 3
    assert all(f.url.startswith("https://") for f in feeds)
    assert all("news" in f.tags for f in feeds)


def test_defaults_are_applied() -> None:
    text = """
defaults:
  interval_seconds: 120
  tags: [base]
feeds:
  - url: https://a.example/feed
    tags: [x, base]
  - url: https://b.example/feed
    interval_seconds: 60
"""
    a, b = parse_feed_list(text, "f.yaml")
    assert a.tags == ("base", "x") and a.interval_seconds == 120
    assert b.tags == ("base",) and b.interval_seconds == 60
    assert a.source_name == "a.example"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "scheme 'file' is not allowed"),
        ("gopher://example.com/1", "scheme 'gopher' is not allowed"),
        ("ftp://example.com/feed.xml", "scheme 'ftp' is not allowed"),
        ("javascript:alert(1)", "scheme 'javascript' is not allowed"),
        ("//example.com/feed", "scheme 'none' is not allowed"),
        ("https:///nohost", "URL has no host"),
        ("https://user:pw@example.com/feed", "credentials in feed URLs are not allowed"),
    ],
)
def test_refused_urls_name_file_line_and_reason(url: str, reason: str) -> None:
    text = f"feeds:\n  - url: https://ok.example/rss\n  - name: bad\n    url: '{url}'\n"
    with pytest.raises(ConfigError) as caught:
        parse_feed_list(text, "feeds/acme.yaml")
    assert str(caught.value).startswith(f"feeds/acme.yaml:4:10 feeds[1].url: {reason}")


def test_every_problem_is_reported_with_its_place() -> None:
    text = "feeds:\n  - url: https://ok.example/rss\n    tagz: [a]\n  - name: no url\n"
    with pytest.raises(ConfigError) as caught:
        parse_feed_list(text, "f.yaml")
    lines = str(caught.value).splitlines()
    assert lines == [
        "f.yaml:3:5 feeds[0].tagz: Extra inputs are not permitted",
        "f.yaml:4:5 feeds[1].url: Field required",
    ]


def test_duplicates_empty_lists_and_bad_yaml_are_refused() -> None:
    dup = "feeds:\n  - url: https://a.example/\n  - url: https://a.example/\n"
    with pytest.raises(ConfigError, match=r"f.yaml:3:10 feeds\[1\].url: duplicate of feeds\[0\]"):
        parse_feed_list(dup, "f.yaml")
    with pytest.raises(ConfigError, match=r"f\.yaml:1:8 feeds: Tuple should have at least 1 item"):
        parse_feed_list("feeds: []\n", "f.yaml")
    with pytest.raises(ConfigError, match=r"f.yaml:\d+:\d+: invalid YAML"):
        parse_feed_list("feeds:\n  - url: [unclosed\n", "f.yaml")
    with pytest.raises(ConfigError, match="must be a mapping"):
        parse_feed_list("- just a list\n", "f.yaml")


def test_python_tags_are_refused_by_the_safe_loader(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    text = f'feeds: !!python/object/apply:os.system ["touch {marker}"]\n'
    with pytest.raises(ConfigError, match="invalid YAML"):
        parse_feed_list(text, "evil.yaml")
    assert not marker.exists()


def test_opml_import_round_trips_through_validation() -> None:
    opml = b"""<?xml version="1.0"?>
<opml version="2.0"><head><title>subs</title></head><body>
  <outline text="World">
    <outline text="BBC" title="BBC World" type="rss" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"/>
  </outline>
  <outline text="HN" xmlUrl="https://hnrss.org/frontpage"/>
  <outline text="Bad" xmlUrl="file:///etc/passwd"/>
</body></opml>"""
    text = feeds_from_opml(opml)
    with pytest.raises(ConfigError, match=r"feeds\[2\].url: scheme 'file'"):
        parse_feed_list(text, "subs.opml")
    good = feeds_from_opml(opml.replace(b'<outline text="Bad" xmlUrl="file:///etc/passwd"/>', b""))
    bbc, hn = parse_feed_list(good, "subs.opml")
    assert (bbc.name, bbc.tags) == ("BBC World", ("World",))
    assert (hn.name, hn.tags) == ("HN", ())
    with pytest.raises(ConfigError, match="DOCTYPE"):
        feeds_from_opml(b'<!DOCTYPE x [<!ENTITY a "b">]><opml/>')


def test_shards_split_the_list_without_overlap() -> None:
    text = "feeds:\n" + "".join(f"  - url: https://h{i}.example/rss\n" for i in range(200))
    feeds = parse_feed_list(text, "f.yaml")
    shards = [select_shard(feeds, 3, i) for i in range(3)]
    urls = [f.url for shard in shards for f in shard]
    assert sorted(urls) == sorted(f.url for f in feeds)
    assert all(len(s) > 30 for s in shards)
    # Stable across processes: the split depends on the URL only.
    assert select_shard(feeds, 3, 1) == select_shard(tuple(reversed(feeds)), 3, 1)[::-1]
    with pytest.raises(ConfigError, match="poller_index 3"):
        select_shard(feeds, 3, 3)
