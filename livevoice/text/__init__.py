"""The text stage between speech recognition and speech synthesis.

:class:`TextStage` is what the daemon uses: committed words in, :class:`TextPhrase`
records (:class:`Say` / :class:`Beep` parts) out. Its pieces are pure functions and
small classes, usable on their own: :class:`PhraseSegmenter` (when to hand words on),
:class:`DisfluencyCleaner` (fillers and repetitions) and :class:`WordFilter` (listed
words beeped, dropped or replaced).
"""

from livevoice.text.disfluency import DisfluencyCleaner
from livevoice.text.filter import WordFilter, WordFilterError, load_word_list, parse_word_list
from livevoice.text.parts import Beep, Part, Say
from livevoice.text.segmenter import PhraseSegmenter, Segment
from livevoice.text.stage import TextPhrase, TextSettings, TextStage, words_from_text

__all__ = [
    "Beep",
    "DisfluencyCleaner",
    "Part",
    "PhraseSegmenter",
    "Say",
    "Segment",
    "TextPhrase",
    "TextSettings",
    "TextStage",
    "WordFilter",
    "WordFilterError",
    "load_word_list",
    "parse_word_list",
    "words_from_text",
]
