"""LocalAgreement-2 as pure code."""

from __future__ import annotations

from livevoice.asr.agreement import LocalAgreement, normalize
from livevoice.frames import Word


def words(text: str, start: float = 0.0, step: float = 0.3) -> list[Word]:
    return [Word(w, start + i * step, start + (i + 1) * step) for i, w in enumerate(text.split())]


def texts(ws: list[Word]) -> list[str]:
    return [w.text for w in ws]


def test_commits_only_what_two_hypotheses_agree_on() -> None:
    la = LocalAgreement()
    assert la.update(words("the quick")) == []
    assert texts(la.update(words("the quick brown fog"))) == ["the", "quick"]
    assert texts(la.update(words("the quick brown fox jumps"))) == ["brown"]
    assert texts(la.update(words("the quick brown fox jumps over"))) == ["fox", "jumps"]
    assert texts(la.committed) == ["the", "quick", "brown", "fox", "jumps"]
    assert texts(la.tentative()) == ["over"]


def test_case_and_punctuation_do_not_block_agreement() -> None:
    la = LocalAgreement()
    la.update(words("Hello world"))
    committed = la.update(words("hello, World. again"))
    assert texts(committed) == ["hello,", "World."]  # the newer spelling is kept
    assert normalize("«Hello,»") == "hello"


def test_a_changed_word_stops_the_commit_there() -> None:
    la = LocalAgreement()
    la.update(words("a b c d"))
    assert texts(la.update(words("a b x d"))) == ["a", "b"]
    assert texts(la.update(words("a b x d e"))) == ["x", "d"]


def test_committed_words_are_not_committed_twice_after_trimming() -> None:
    """After the buffer is cut, Whisper re-reads the last committed words: they are skipped."""
    la = LocalAgreement()
    la.update(words("one two three four"))
    la.update(words("one two three four five"))
    assert texts(la.committed) == ["one", "two", "three", "four"]
    # buffer trimmed at 0.9 s: the hypothesis now starts with "four" again, slightly shifted
    later = [Word("four", 0.92, 1.2), Word("five", 1.2, 1.5), Word("six", 1.5, 1.8)]
    assert texts(la.update(later)) == ["five"]
    assert texts(la.update([*later, Word("seven", 1.8, 2.1)])) == ["six"]
    assert texts(la.committed) == ["one", "two", "three", "four", "five", "six"]


def test_finish_commits_the_rest_of_the_final_hypothesis() -> None:
    la = LocalAgreement()
    la.update(words("to be or"))
    la.update(words("to be or not"))
    rest = la.finish(words("to be or not to be"))
    assert texts(rest) == ["not", "to", "be"]
    assert texts(la.committed) == ["to", "be", "or", "not", "to", "be"]
    assert la.tentative() == []


def test_words_too_close_to_the_end_of_what_was_heard_wait() -> None:
    """With a margin, agreeing passes only commit words the decode heard well past."""
    la = LocalAgreement(stable_margin_s=0.4)
    la.update(words("a b c d"), heard_until_s=1.25)  # words end at 0.3, 0.6, 0.9, 1.2
    assert texts(la.update(words("a b c d"), heard_until_s=1.25)) == ["a", "b"]  # c: 0.35 s before
    assert texts(la.update(words("a b c d e"), heard_until_s=1.7)) == ["c", "d"]
    assert texts(la.finish(words("a b c d e"))) == ["e"]  # the end of speech commits the rest


def test_unsure_words_wait_for_a_longer_margin() -> None:
    """A word Whisper was unsure of in either pass needs more audio after it; the words after it wait too."""
    la = LocalAgreement(stable_margin_s=0.2, min_probability=0.6, unsure_margin_s=1.0)
    sure = words("a b c d e")  # end at 0.3, 0.6, 0.9, 1.2, 1.5
    unsure_b = [w if w.text != "b" else Word("b", w.start_s, w.end_s, 0.5) for w in sure]
    la.update(sure, heard_until_s=1.3)
    assert texts(la.update(unsure_b, heard_until_s=1.3)) == ["a"]  # b: unsure in the new pass
    assert texts(la.update(sure, heard_until_s=1.5)) == []  # unsure in the previous one: 0.9 s < 1.0 s
    assert texts(la.update(sure, heard_until_s=1.6)) == ["b", "c", "d"]  # sure twice: the short margin
    assert texts(la.update(unsure_b, heard_until_s=1.8)) == ["e"]
    la = LocalAgreement(stable_margin_s=0.2, min_probability=0.6, unsure_margin_s=1.0)
    la.update(unsure_b, heard_until_s=1.3)
    assert texts(la.update(unsure_b, heard_until_s=1.55)) == ["a"]  # b heard 0.95 s past
    assert texts(la.update(unsure_b, heard_until_s=1.65)) == ["b", "c", "d"]  # 1.05 s past
    assert texts(la.finish(unsure_b)) == ["e"]  # the end of speech commits whatever is left
