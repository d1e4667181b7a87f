"""Story identity: syndicated and rewritten copies are one story; different stories are not."""

import random
from datetime import UTC, datetime, timedelta

import numpy as np

from streams.stories import StoryEntry, StoryIndex, fingerprint, story_id_for

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


def synthetic_copies(stories: int, seed: int = 7) -> list[tuple[str, str, str, str]]:
    """(story, link, title, lead) for ``stories`` stories, each told by one to three outlets.

    Words are drawn with a skew, so unrelated stories share common words as news leads do;
    later copies rewrite a growing share of the lead, some of them right around the threshold.
    """
    rng = random.Random(seed)
    vocabulary = [f"w{n}" for n in range(4000)]
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]
    copies = []
    for story in range(stories):
        lead = rng.choices(vocabulary, weights, k=45)
        for outlet in range(rng.randint(1, 3)):
            words = list(lead)
            for position in rng.sample(range(len(words)), k=outlet * rng.randint(1, 9)):
                words[position] = rng.choice(vocabulary)
            copies.append(
                (f"s{story}", f"https://o{outlet}.example/{story}", f"t{story}", " ".join(words))
            )
    rng.shuffle(copies)
    return copies


def full_scan_story_ids(
    copies: list[tuple[str, str, str, str]], threshold: float
) -> list[set[str]]:
    """What the index replaced: compare each copy with every known story, keep the best.

    Returns the ids each copy may get: the best story, or all of them on a tie (the scan took
    the last one, the index takes the latest seen: an arbitrary choice either way).
    """
    signatures = np.zeros((len(copies), 64), dtype=np.int64)  # one row per known story
    story_ids: list[str] = []
    story_of_link: dict[str, int] = {}
    assigned = []
    for _, link, title, lead in copies:
        signature = np.asarray(fingerprint(title, lead))
        found = story_of_link.get(link)
        tied = [] if found is None else [found]
        if found is None and story_ids:
            scores = (signatures[: len(story_ids)] == signature).mean(axis=1)
            tied = [int(n) for n in np.flatnonzero(scores == scores.max())]
            found = tied[-1] if scores[tied[-1]] >= threshold else None
        if found is None:
            found = len(story_ids)
            tied = [found]
            signatures[found] = signature
            story_ids.append(story_id_for(link, title))
        story_of_link[link] = found
        assigned.append({story_ids[n] for n in tied})
    return assigned


def test_thousands_of_stories_fold_as_the_full_scan_folds() -> None:
    copies = synthetic_copies(2000)
    index = StoryIndex(window=timedelta(days=7), threshold=0.5)
    by_index = [index.assign(link, title, lead, NOW)[0].story_id for _, link, title, lead in copies]
    by_scan = full_scan_story_ids(copies, threshold=0.5)
    differing = sum(a not in b for a, b in zip(by_index, by_scan, strict=True))
    assert len(copies) > 3500 and len(index.entries) > 2000
    assert differing == 0
    # Folding never merges two different stories (heavy rewrites may stay apart, as before).
    truth = [story for story, *_ in copies]
    stories_per_id: dict[str, set[str]] = {}
    for story, story_id in zip(truth, by_index, strict=True):
        stories_per_id.setdefault(story_id, set()).add(story)
    assert all(len(stories) == 1 for stories in stories_per_id.values())
    assert len(stories_per_id) < len(copies) - 1000  # and many copies did fold
