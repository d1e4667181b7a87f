"""Story identity: syndicated and rewritten copies are one story; different stories are not."""

from datetime import UTC, datetime, timedelta

from streams.stories import StoryEntry, StoryIndex

NOW = datetime(2023, 3, 29, 12, 0, tzinfo=UTC)
LEAD = (
    "More than 1,000 technology leaders and researchers, including Elon Musk, have urged "
    "artificial intelligence labs to pause development of the most advanced systems, warning "
    "in an open letter that A.I. tools present profound risks to society and humanity."
)


def make_index() -> StoryIndex:
    return StoryIndex(window=timedelta(hours=48), threshold=0.6)


def test_same_canonical_link_is_one_story() -> None:
    index = make_index()
    first, new1 = index.assign("https://a.example/story", "Title one", "lead one", NOW)
    second, new2 = index.assign("https://a.example/story", "Totally other", "words", NOW)
    assert (new1, new2) == (True, False)
    assert first.story_id == second.story_id


def test_syndicated_copy_with_other_link_and_headline_is_one_story() -> None:
    index = make_index()
    first, _ = index.assign(
        "https://nyt.example/pause", "Elon Musk and Others Call for Pause on A.I.", LEAD, NOW
    )
    copy, is_new = index.assign(
        "https://syndicated.example/x/123",
        "Musk and others call for pause on AI, citing 'profound risks'",
        LEAD + " The letter was published by the Future of Life Institute.",
        NOW + timedelta(minutes=30),
    )
    assert not is_new
    assert copy.story_id == first.story_id
    assert set(copy.links) == {"https://nyt.example/pause", "https://syndicated.example/x/123"}


def test_different_stories_stay_apart() -> None:
    index = make_index()
    first, _ = index.assign("https://a.example/1", "Musk calls for AI pause", LEAD, NOW)
    other, is_new = index.assign(
        "https://b.example/2",
        "Baidu unveils Ernie Bot, its answer to ChatGPT",
        "Chinese search giant Baidu showed its Ernie Bot chatbot on Thursday to investors.",
        NOW,
    )
    assert is_new
    assert other.story_id != first.story_id


def test_story_expires_after_window_and_ids_are_deterministic() -> None:
    index = make_index()
    first, _ = index.assign("https://a.example/1", "Musk calls for AI pause", LEAD, NOW)
    later, is_new = index.assign(
        "https://a.example/1", "Musk calls for AI pause", LEAD, NOW + timedelta(hours=49)
    )
    assert is_new
    # A replay of the same first copy derives the same id: no duplicate alert after a restart.
    assert later.story_id == first.story_id


def test_entry_round_trips_through_plain_data() -> None:
    entry, _ = make_index().assign("https://a.example/1", "t", LEAD, NOW)
    assert StoryEntry.from_dict(entry.to_dict()) == entry


def test_index_is_bounded() -> None:
    index = StoryIndex(window=timedelta(days=7), threshold=0.9, max_entries=10)
    for n in range(50):
        index.assign(f"https://a.example/{n}", f"headline {n} unique words {n * 7}", "", NOW)
    assert len(index.entries) <= 10
