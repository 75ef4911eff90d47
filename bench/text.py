"""How long the text stage takes per phrase (it sits in the latency path between ASR and TTS).

Feeds a transcript of ~1000 words through :class:`~livevoice.text.TextStage`, a few words
per commit like the live ASR, with everything off, with the clean-up, and with the
clean-up plus a word filter list of N entries (random words, 10 % two-word phrases,
10 % ``word*`` prefixes). Prints the time per commit and per word.

    .venv/bin/python bench/text.py
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path

from livevoice.config import TextConfig
from livevoice.frames import TranscriptFinal, Word
from livevoice.text import TextStage

SPEECH = (
    "Um, so I I was thinking, you know, that we could, uh, go to the the shop later. "
    "Th- the weather is b-b-but nice today, and I want to, um, buy some bread, cheese and fruit. "
    "Hello everyone, today we are going to talk about something important, which is how to speak well."
)


def transcript(n_words: int) -> list[Word]:
    base = SPEECH.split()
    return [Word(base[i % len(base)], i * 0.3, i * 0.3 + 0.25) for i in range(n_words)]


def word_list(n_entries: int, rng: random.Random) -> str:
    lines = []
    for i in range(n_entries):
        word = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
        if i % 10 == 0:
            word += " " + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(4))
        elif i % 10 == 1:
            word += "*"
        lines.append(word)
    lines += ["bread", "cheese and fruit"]
    return "\n".join(lines) + "\n"


def run_once(stage: TextStage, words: list[Word], per_commit: int) -> tuple[list[float], int]:
    """Per-commit times (s) and the number of phrases, over 10 utterances of the words."""
    times: list[float] = []
    phrases = 0
    chunk = len(words) // 10
    for uid in range(10):
        utterance = words[uid * chunk : (uid + 1) * chunk]
        for i in range(0, len(utterance), per_commit):
            started = time.perf_counter()
            phrases += len(stage.on_words(uid, utterance[i : i + per_commit], 0))
            times.append(time.perf_counter() - started)
        final = TranscriptFinal(uid, "", tuple(utterance), 0.0, 0.0, 0, 0, 0)
        started = time.perf_counter()
        phrases += len(stage.on_final(final))
        times.append(time.perf_counter() - started)
    return times, phrases


def main() -> None:
    rng = random.Random(0)
    words = transcript(1000)
    with tempfile.TemporaryDirectory() as folder:
        setups: list[tuple[str, TextConfig]] = [
            ("everything off", TextConfig()),
            ("clean-up", TextConfig(clean_disfluencies=True)),
        ]
        for n in (100, 2000):
            path = Path(folder) / f"list{n}.txt"
            path.write_text(word_list(n, rng))
            setups.append(
                (
                    f"clean-up + filter, {n} entries",
                    TextConfig(clean_disfluencies=True, word_filter_file=str(path)),
                )
            )
        print(f"{len(words)} words, 3 words per commit, 10 utterances; median of 5 runs")
        print(f"{'setup':36} {'per commit p50':>15} {'p95':>9} {'max':>9} {'per word':>9} {'phrases':>8}")
        for name, config in setups:
            runs = []
            for _ in range(5):
                stage = TextStage(config)
                times, phrases = run_once(stage, words, 3)
                runs.append(
                    (statistics.median(times), statistics.quantiles(times, n=20)[18], max(times), sum(times))
                )
            p50, p95, worst, total = (statistics.median(r[i] for r in runs) for i in range(4))
            print(
                f"{name:36} {p50 * 1e6:12.0f} µs {p95 * 1e6:6.0f} µs {worst * 1e6:6.0f} µs "
                f"{total / len(words) * 1e6:6.1f} µs {phrases:8d}"
            )


if __name__ == "__main__":
    main()
