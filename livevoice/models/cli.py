"""``livevoice models pull|list``: get the TTS model onto this machine, and see what is here."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "models",
        help="download the TTS model (with progress) and list the models on this machine",
        description="livevoice needs a Qwen3-TTS *-Base model. `models pull` downloads one from the "
        "Hugging Face hub into its cache (where [tts] model = HUB_ID finds it, also offline) or into a "
        "folder (--to); an interrupted download resumes where it stopped.",
    )
    cmds = p.add_subparsers(dest="models_command", metavar="MODELS_COMMAND")
    cmds.required = True
    pull = cmds.add_parser("pull", help="download a model: 0.6B, 1.7B or a hub id (default: [tts] model)")
    pull.add_argument("model", nargs="?", default=None, help="0.6B, 1.7B or a hub id like Qwen/...-Base")
    pull.add_argument("--to", type=Path, default=None, metavar="FOLDER", help="download into this folder")
    pull.add_argument("--revision", default="main", help="branch, tag or commit (default main)")
    pull.set_defaults(func=cmd_pull)
    listing = cmds.add_parser("list", help="TTS models here and the ones that can be pulled")
    listing.add_argument("--json", action="store_true", help="one JSON object per model")
    listing.set_defaults(func=cmd_list)


def _config_line(model: str) -> str:
    return f'[tts] model = "{model}"'


def cmd_pull(args: argparse.Namespace) -> int:
    from livevoice.cli import config_from_args, config_path_from_args
    from livevoice.config import default_config_path
    from livevoice.errors import ModelError
    from livevoice.models import hub
    from livevoice.models.folder import format_bytes, inspect_folder

    configured = config_from_args(args).tts.model
    wanted = args.model or (configured if hub.looks_like_hub_id(configured) else "0.6B")
    repo_id = hub.resolve_alias(wanted)
    if not hub.looks_like_hub_id(repo_id):
        raise ModelError(
            f"models pull takes 0.6B, 1.7B or a hub id such as {hub.ALIASES['0.6B']}, not {wanted!r}; "
            "a model folder needs no download: set [tts] model to it"
        )
    try:
        remote = hub.fetch_remote_model(repo_id, args.revision)
    except hub.HubError as err:
        if err.unreachable:
            raise ModelError(
                f"cannot download {repo_id}: {err.reason}; try again where the hub can be reached, or copy "
                "a downloaded model folder here and set [tts] model to it"
            ) from None
        raise ModelError(f"cannot download {repo_id}: {err.reason}") from None
    to = args.to.expanduser().resolve() if args.to is not None else None
    cached = hub.cached_snapshot(repo_id, args.revision) if to is None else None
    if cached is not None and cached.name == remote.sha and not remote.missing_in(cached):
        folder = cached
        print(f"{repo_id} is already downloaded")
    else:
        try:
            folder = hub.download(remote, to=to)
        except KeyboardInterrupt:
            # the client's download threads cannot be stopped; what they wrote is kept and resumed
            print(
                f"livevoice: download interrupted; `{hub.pull_command(repo_id)}` resumes it", file=sys.stderr
            )
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)
    info = inspect_folder(folder)
    where = "in the hub cache" if to is None else "in"
    print(f"{repo_id}: {format_bytes(info.size_bytes)} {where} {folder}")
    if not info.is_qwen3_tts_base:
        print(
            f"livevoice: warning: {repo_id} is not a Qwen3-TTS *-Base model; livevoice cannot speak with it",
            file=sys.stderr,
        )
    model_setting = repo_id if to is None else str(folder)
    if to is None and args.revision != "main":
        model_setting = str(folder)  # the hub id alone means the main branch
    if configured == model_setting:
        print(f"Your config uses it: {_config_line(model_setting)}")
    else:
        path = config_path_from_args(args) or default_config_path()
        print(f'To use it, set in {path}:\n  [tts]\n  model = "{model_setting}"')
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from livevoice.cli import config_from_args
    from livevoice.models.catalog import list_models
    from livevoice.models.folder import format_bytes

    entries = list_models(config_from_args(args).tts.model)
    if args.json:
        for entry in entries:
            print(json.dumps(entry.to_dict()))
        return 0
    rows = [("MODEL", "STATE", "SIZE", "DIM", "WHERE / HOW TO GET IT")]
    for e in entries:
        where = str(e.folder) if e.folder and e.state == "ready" else e.fix
        if e.missing:
            where = f"lacks {', '.join(e.missing[:2])}: {e.fix}"
        rows.append(
            (
                e.model + (" *" if e.configured else ""),
                e.state,
                format_bytes(e.size_bytes) if e.size_bytes else "-",
                str(e.embedding_dim) if e.embedding_dim else "-",
                where,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)) + "  " + row[4])
    print("(* = [tts] model in your config)")
    return 0
