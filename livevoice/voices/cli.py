"""``livevoice voice ...``: make, import, list, mix, morph directions and search voices.

Voices are addressed by library name; where a command reads a voice, a path to a
``.safetensors`` voice file works too. Commands that write never replace an existing
name without ``--force``. Embedding audio loads the TTS model (``[tts] model``, or
``--model``); everything else is instant.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

from livevoice.voices.embedding import (
    VOICE_SUFFIX,
    Direction,
    Voice,
    VoiceError,
    VoiceMeta,
    load_voice,
    now_iso,
    validate_name,
)
from livevoice.voices.library import VoiceLibrary

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``livevoice voice ...`` to the ``livevoice`` parser."""
    voice = sub.add_parser(
        "voice",
        help="manage the voice library: add, import, list, mix, slerp, directions, search",
        description="Voices are Qwen3-TTS speaker embeddings stored as safetensors in the library folder.",
    )
    cmds = voice.add_subparsers(dest="voice_command", metavar="VOICE_COMMAND")
    cmds.required = True

    def writer(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--force", action="store_true", help="overwrite an existing voice of that name")
        parser.add_argument("--note", default=None, help="free note kept with it (consent, provenance)")

    def model_option(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--model", default=None, help="*-Base model to embed with (default: [tts] model)")

    p = cmds.add_parser("add", help="make a voice from 3-30 s of reference audio")
    p.add_argument("name", help="name of the new voice")
    p.add_argument("ref_audio", type=Path, help="reference audio file (any rate/channels)")
    model_option(p)
    writer(p)
    p.set_defaults(func=cmd_add)

    p = cmds.add_parser("import", help="copy a speaker_embedding .safetensors file into the library")
    p.add_argument("file", type=Path, help="safetensors file with a float32 'speaker_embedding'")
    p.add_argument("--name", default=None, help="library name (default: the file stem)")
    writer(p)
    p.set_defaults(func=cmd_import)

    p = cmds.add_parser("list", help="list the voices in the library")
    p.set_defaults(func=cmd_list)

    p = cmds.add_parser("show", help="show one voice's metadata")
    p.add_argument("voice", help="library name or .safetensors file")
    p.set_defaults(func=cmd_show)

    p = cmds.add_parser("rm", help="remove a voice from the library")
    p.add_argument("name")
    p.set_defaults(func=cmd_rm)

    p = cmds.add_parser("rename", help="rename a voice")
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--force", action="store_true", help="overwrite an existing voice called NEW")
    p.set_defaults(func=cmd_rename)

    p = cmds.add_parser("mix", help="weighted mix: livevoice voice mix A:0.7 B:0.3 --as C")
    p.add_argument("terms", nargs="+", metavar="VOICE[:WEIGHT]", help="voices and weights (default 1)")
    p.add_argument("--as", dest="as_name", required=True, metavar="NAME", help="name of the result")
    writer(p)
    p.set_defaults(func=cmd_mix)

    p = cmds.add_parser("slerp", help="spherical interpolation: T=0 gives A, T=1 gives B")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("t", type=float, help="position between A (0) and B (1)")
    p.add_argument("--as", dest="as_name", required=True, metavar="NAME", help="name of the result")
    writer(p)
    p.set_defaults(func=cmd_slerp)

    p = cmds.add_parser("direction", help="attribute directions learned from labelled voices")
    dcmds = p.add_subparsers(dest="direction_command", metavar="DIRECTION_COMMAND")
    dcmds.required = True
    d = dcmds.add_parser(
        "learn",
        help="learn NAME = mean(--pos voices) - mean(--neg voices)",
        description="The direction is the difference of the group means. --top-dims K keeps only the K "
        "most discriminative dimensions (moderated t-statistic) and zeroes the others.",
    )
    d.add_argument("name")
    d.add_argument("--pos", nargs="+", required=True, metavar="VOICE", help="voices that have the attribute")
    d.add_argument("--neg", nargs="+", required=True, metavar="VOICE", help="voices that lack it")
    d.add_argument("--top-dims", type=int, default=0, metavar="K", help="keep K best dimensions (0 = all)")
    writer(d)
    d.set_defaults(func=cmd_direction_learn)
    d = dcmds.add_parser("list", help="list the learned directions")
    d.set_defaults(func=cmd_direction_list)
    d = dcmds.add_parser("rm", help="remove a direction")
    d.add_argument("name")
    d.set_defaults(func=cmd_direction_rm)

    p = cmds.add_parser("apply", help="move a voice along a direction: VOICE + STRENGTH * DIRECTION")
    p.add_argument("voice")
    p.add_argument("direction")
    p.add_argument("strength", type=float, help="1 = the full learned difference; negative = opposite")
    p.add_argument("--as", dest="as_name", required=True, metavar="NAME", help="name of the result")
    writer(p)
    p.set_defaults(func=cmd_apply)

    p = cmds.add_parser(
        "starters",
        help="make the starter voices (shipped synthetic clips) with the model's speaker encoder",
        description="Make the starter voices from the reference clips shipped with livevoice (synthesized "
        "speech; source and licence in each voice's note), embedded by the model's own speaker encoder. "
        "Existing voices of the same names are kept unless --force.",
    )
    model_option(p)
    p.add_argument("--force", action="store_true", help="replace existing voices of the same names")
    p.set_defaults(func=cmd_starters)

    p = cmds.add_parser("search", help="library voices nearest to a voice or to reference audio (cosine)")
    p.add_argument("query", help="library name, .safetensors voice file, or reference audio file")
    p.add_argument("-k", type=int, default=5, help="how many results (default 5)")
    model_option(p)
    p.set_defaults(func=cmd_search)


# -- helpers -------------------------------------------------------------------


def _library(args: argparse.Namespace) -> VoiceLibrary:
    from livevoice.cli import config_from_args

    return VoiceLibrary.from_config(config_from_args(args))


def _warn(message: str) -> None:
    print(f"livevoice: warning: {message}", file=sys.stderr)


def _common_model(voices: list[Voice]) -> str:
    """The model id shared by ``voices`` ("" if unknown); differing ids are warned about."""
    ids = sorted({v.meta.model_id for v in voices if v.meta.model_id})
    if len(ids) > 1:
        _warn(f"combining voices from different model ids: {', '.join(ids)}")
    return ids[0] if ids else ""


def _derived(args: argparse.Namespace, embedding: np.ndarray, model_id: str, source: str) -> Voice:
    meta = VoiceMeta(
        name=validate_name(args.as_name),
        model_id=model_id,
        dim=0,
        source=source,
        created=now_iso(),
        note=args.note or "",
    )
    return Voice(np.asarray(embedding, dtype=np.float32), meta)


def _store(library: VoiceLibrary, voice: Voice, force: bool) -> int:
    path = library.add(voice, force=force)
    print(f"saved voice {voice.meta.name!r} ({voice.dim} values) to {path}")
    return 0


def _load_engine(args: argparse.Namespace) -> Any:
    """The TTS engine whose speaker encoder embeds audio (``--model`` or ``[tts] model``)."""
    from livevoice.cli import config_from_args
    from livevoice.tts.qwen3 import load_qwen3_engine

    tts = config_from_args(args).tts
    model = args.model or tts.model
    return load_qwen3_engine(model, device=tts.device, torch_threads=tts.torch_threads, warmup=False)


def portable_model_id(model_id: str) -> str:
    """``model_id`` as stored in voice files: a hub id as is, a local model folder by its name only.

    Voice files get shared; the path of a folder on this machine would mean nothing
    elsewhere (and would leak the user's folder names).
    """
    path = Path(model_id).expanduser()
    return path.name if path.is_dir() else model_id


def _weight_term(term: str) -> tuple[str, float]:
    voice, sep, weight_text = term.rpartition(":")
    if not sep:
        return term, 1.0
    try:
        return voice, float(weight_text)
    except ValueError:
        raise VoiceError(
            f"mix term {term!r}: weight {weight_text!r} is not a number (use NAME:0.7)"
        ) from None


def _fmt(x: float) -> str:
    return f"{x:g}"


# -- commands --------------------------------------------------------------------


def cmd_add(args: argparse.Namespace) -> int:
    """Embed reference audio with the Base model's speaker encoder and store it."""
    from livevoice.voices.refaudio import embed_samples, read_reference_audio

    library = _library(args)
    name = validate_name(args.name)
    if name in library and not args.force:
        raise VoiceError(f"voice {name!r} already exists; use --force to overwrite it")
    audio = read_reference_audio(args.ref_audio)  # fails fast, before the model loads
    engine = _load_engine(args)
    embedding = embed_samples(engine, audio)
    meta = VoiceMeta(
        name=name,
        model_id=portable_model_id(str(engine.model_id)),
        dim=0,
        source=f"audio:{args.ref_audio.name}",
        created=now_iso(),
        note=args.note or "",
    )
    return _store(library, Voice(embedding, meta), args.force)


def cmd_import(args: argparse.Namespace) -> int:
    """Validate a voice file made elsewhere and copy it into the library."""
    library = _library(args)
    path: Path = args.file
    name = validate_name(args.name if args.name is not None else path.name.removesuffix(VOICE_SUFFIX))
    voice = load_voice(path)
    source = f"import:{path.name}" + (f" ({voice.meta.source})" if voice.meta.source else "")
    meta = VoiceMeta(
        name=name,
        model_id=voice.meta.model_id,
        dim=voice.dim,
        source=source,
        created=voice.meta.created or now_iso(),
        note=args.note if args.note is not None else voice.meta.note,
    )
    return _store(library, Voice(voice.embedding, meta), args.force)


def cmd_list(args: argparse.Namespace) -> int:
    """Print NAME DIM MODEL SOURCE for each voice; report unreadable files on stderr."""
    library = _library(args)
    metas, problems = library.scan()
    for file_name, problem in problems:
        _warn(f"skipping {file_name}: {problem}")
    if not metas:
        print(f"no voices in {library.folder} (add one with `livevoice voice add NAME REF_AUDIO`)")
        return 0
    rows = [("NAME", "DIM", "MODEL", "SOURCE")]
    rows += [(m.name, str(m.dim), m.model_id or "-", m.source or "-") for m in metas]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)) + "  " + row[3])
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """Print a voice's metadata and a few figures of its embedding."""
    library = _library(args)
    voice = library.resolve(args.voice)
    meta = voice.meta
    e = voice.embedding
    print(f"name:     {meta.name}")
    print(f"dim:      {meta.dim}")
    print(f"model:    {meta.model_id or '-'}")
    print(f"source:   {meta.source or '-'}")
    print(f"created:  {meta.created or '-'}")
    print(f"note:     {meta.note or '-'}")
    print(f"norm:     {float(np.linalg.norm(e)):.4f}")
    print(f"mean/std: {float(e.mean()):.4f} / {float(e.std()):.4f}")
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    """Remove a voice."""
    _library(args).remove(args.name)
    print(f"removed voice {args.name!r}")
    return 0


def cmd_rename(args: argparse.Namespace) -> int:
    """Rename a voice."""
    _library(args).rename(args.old, args.new, force=args.force)
    print(f"renamed voice {args.old!r} to {args.new!r}")
    return 0


def cmd_mix(args: argparse.Namespace) -> int:
    """Store the weighted mix of voices."""
    from livevoice.voices.algebra import check_same_dim, mix

    library = _library(args)
    validate_name(args.as_name)
    terms = [_weight_term(t) for t in args.terms]
    voices = [library.resolve(name) for name, _ in terms]
    check_same_dim([(v.meta.name, v.embedding) for v in voices], "mix")
    embedding = mix([(v.embedding, w) for v, (_, w) in zip(voices, terms, strict=True)])
    formula = "+".join(f"{_fmt(w)}*{v.meta.name}" for v, (_, w) in zip(voices, terms, strict=True))
    return _store(library, _derived(args, embedding, _common_model(voices), f"mix:{formula}"), args.force)


def cmd_slerp(args: argparse.Namespace) -> int:
    """Store the spherical interpolation between two voices."""
    from livevoice.voices.algebra import check_same_dim, slerp

    library = _library(args)
    validate_name(args.as_name)
    a, b = library.resolve(args.a), library.resolve(args.b)
    check_same_dim([(a.meta.name, a.embedding), (b.meta.name, b.embedding)], "interpolate")
    embedding = slerp(a.embedding, b.embedding, args.t)
    source = f"slerp:{a.meta.name},{b.meta.name},t={_fmt(args.t)}"
    return _store(library, _derived(args, embedding, _common_model([a, b]), source), args.force)


def cmd_direction_learn(args: argparse.Namespace) -> int:
    """Learn and store an attribute direction."""
    from livevoice.voices.algebra import check_same_dim, learn_direction

    library = _library(args)
    name = validate_name(args.name)
    if name in library.direction_names() and not args.force:
        raise VoiceError(f"direction {name!r} already exists; use --force to overwrite it")
    pos = [library.resolve(v) for v in args.pos]
    neg = [library.resolve(v) for v in args.neg]
    check_same_dim([(v.meta.name, v.embedding) for v in pos + neg], "combine")
    vector = learn_direction([v.embedding for v in pos], [v.embedding for v in neg], top_dims=args.top_dims)
    method = f"mean difference, top {args.top_dims} dims" if args.top_dims else "mean difference"
    source = (
        f"{method}; pos: {', '.join(v.meta.name for v in pos)}; neg: {', '.join(v.meta.name for v in neg)}"
    )
    meta = VoiceMeta(name, _common_model(pos + neg), 0, source, now_iso(), args.note or "")
    path = library.add_direction(Direction(vector, meta), force=args.force)
    print(
        f"saved direction {name!r} ({vector.size} values, norm {float(np.linalg.norm(vector)):.4f}) to {path}"
    )
    return 0


def cmd_direction_list(args: argparse.Namespace) -> int:
    """Print the stored directions."""
    library = _library(args)
    names = library.direction_names()
    if not names:
        print(f"no directions in {library.directions_folder}")
    for name in names:
        try:
            d = library.get_direction(name)
        except VoiceError as err:
            _warn(f"skipping {name}: {err}")
            continue
        print(f"{name}  {d.meta.dim}  {d.meta.source}")
    return 0


def cmd_direction_rm(args: argparse.Namespace) -> int:
    """Remove a direction."""
    _library(args).remove_direction(args.name)
    print(f"removed direction {args.name!r}")
    return 0


def cmd_apply(args: argparse.Namespace) -> int:
    """Store VOICE + STRENGTH * DIRECTION."""
    from livevoice.voices.algebra import apply_direction, check_same_dim

    library = _library(args)
    validate_name(args.as_name)
    voice = library.resolve(args.voice)
    direction = library.get_direction(args.direction)
    check_same_dim(
        [(voice.meta.name, voice.embedding), (f"direction {direction.meta.name}", direction.vector)],
        "apply a direction to",
    )
    embedding = apply_direction(voice.embedding, direction.vector, args.strength)
    source = f"apply:{voice.meta.name}{args.strength:+g}*{direction.meta.name}"
    return _store(library, _derived(args, embedding, voice.meta.model_id, source), args.force)


def cmd_starters(args: argparse.Namespace) -> int:
    """Make (or with --force remake) the starter voices."""
    from livevoice.voices.starters import make_starter_voices

    library = _library(args)
    engine = _load_engine(args)
    made, skipped = make_starter_voices(library, engine, force=args.force)
    for name in made:
        print(f"saved voice {name!r} ({engine.embedding_dim} values) to {library.path_of(name)}")
    for name in skipped:
        _warn(f"kept your voice {name!r}; use --force to replace it with the starter voice")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    """Print the library voices nearest to a voice or to reference audio, with cosine scores."""
    from livevoice.voices.algebra import nearest

    if args.k < 1:
        raise VoiceError(f"-k {args.k} must be at least 1")
    library = _library(args)
    query_text: str = args.query
    exclude = ""
    if query_text in library:
        query = library.get(query_text).embedding
        exclude = query_text
    elif query_text.endswith(VOICE_SUFFIX):
        query = load_voice(Path(query_text)).embedding
    elif Path(query_text).is_file():
        from livevoice.voices.refaudio import embed_samples, read_reference_audio

        audio = read_reference_audio(Path(query_text))
        query = embed_samples(_load_engine(args), audio)
    else:
        query = library.get(query_text).embedding  # raises "unknown voice ... known: ..."
    metas, problems = library.scan()
    for file_name, problem in problems:
        _warn(f"skipping {file_name}: {problem}")
    candidates = [library.get(m.name) for m in metas if m.name != exclude]
    same = [v for v in candidates if v.dim == query.size]
    other_dims = sorted({v.dim for v in candidates if v.dim != query.size})
    if other_dims and not same:
        dims = ", ".join(str(d) for d in other_dims)
        raise VoiceError(
            f"the query has {query.size} values but the library voices have {dims}: "
            "embeddings of different models cannot be compared"
        )
    if other_dims:
        skipped = len(candidates) - len(same)
        _warn(f"skipped {skipped} voice(s) of another dimension ({', '.join(map(str, other_dims))})")
    if not same:
        print(f"no voices to compare with in {library.folder}")
        return 0
    results = nearest(query, [(v.meta.name, v.embedding) for v in same], args.k)
    width = max(len(name) for name, _ in results)
    for rank, (name, score) in enumerate(results, start=1):
        print(f"{rank:>2}  {name.ljust(width)}  {score:.4f}")
    return 0
