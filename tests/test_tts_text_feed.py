"""TextFeed: what the model reads at each step while the text grows (pure, no model)."""

from __future__ import annotations

import itertools

import pytest

from livevoice.tts.engine import chunk_sizes
from livevoice.tts.text_feed import END, PAD, WAIT, TextFeed


def chars(text: str) -> list[int]:
    """One token per character (its code point)."""
    return [ord(c) for c in text]


def merging(text: str) -> list[int]:
    """A tokenizer that merges "ab" into one token (1000), like a BPE merge across an append."""
    out: list[int] = []
    i = 0
    while i < len(text):
        if text.startswith("ab", i):
            out.append(1000)
            i += 2
        else:
            out.append(ord(text[i]))
            i += 1
    return out


def test_final_text_reads_tokens_then_end_then_padding() -> None:
    feed = TextFeed(chars, "hi", final=True)
    assert [feed.step(i) for i in range(5)] == [ord("h"), ord("i"), END, PAD, PAD]


def test_unfinished_text_holds_back_its_last_token_and_never_ends() -> None:
    feed = TextFeed(chars, "hi", final=False)
    assert [feed.step(i) for i in range(3)] == [ord("h"), WAIT, WAIT]
    feed.append(" yo")
    assert [feed.step(i) for i in range(5)] == [ord(c) for c in "hi y"] + [WAIT]
    feed.close()
    assert [feed.step(i) for i in range(7)] == [ord(c) for c in "hi yo"] + [END, PAD]


def test_held_back_token_can_still_merge_with_appended_text() -> None:
    feed = TextFeed(merging, "xa", final=False)
    assert feed.step(0) == ord("x")
    assert feed.step(1) == WAIT  # "a" may still become "ab"
    feed.append("b")
    feed.close()
    assert [feed.step(i) for i in range(3)] == [ord("x"), 1000, END]


def test_empty_text_waits_until_text_or_close() -> None:
    feed = TextFeed(chars, "", final=False)
    assert feed.is_empty() and feed.step(0) == WAIT
    feed.append("a")
    assert feed.step(0) == WAIT
    feed.append("b")
    assert feed.step(0) == ord("a")
    empty = TextFeed(chars, "", final=False)
    empty.close()
    assert empty.step(0) == END


def test_appending_to_a_closed_text_fails() -> None:
    feed = TextFeed(chars, "a", final=True)
    with pytest.raises(ValueError, match="closed"):
        feed.append("b")


def test_chunk_sizes_first_then_steady() -> None:
    assert list(itertools.islice(chunk_sizes(1, 4), 4)) == [1, 4, 4, 4]
    assert list(itertools.islice(chunk_sizes(2, 3), 3)) == [2, 3, 3]
    with pytest.raises(ValueError):
        next(chunk_sizes(0, 4))
