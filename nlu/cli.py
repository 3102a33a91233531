"""``intake nlu validate | train | parse | eval``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any


def add_commands(sub: Any) -> None:
    """Add the ``nlu`` group to ``intake``'s subparsers."""
    nlu = sub.add_parser("nlu", help="the embedded NLU: training data, model, parsing").add_subparsers(
        metavar="ACTION")

    validate = nlu.add_parser("validate", help="check the training data; a table per language")
    validate.add_argument("--data", type=Path, help="training data folder (default nlu/data)")
    validate.add_argument("--min-examples", type=int, default=None, help="per intent and language (default 20)")
    validate.add_argument("--lang", action="append", help="only these languages (repeatable)")
    validate.add_argument("--quiet", action="store_true", help="the table and the summary only")
    validate.set_defaults(handler=_validate)

    train = nlu.add_parser("train", help="train the model on all languages")
    train.add_argument("--data", type=Path, help="training data folder (default nlu/data)")
    train.add_argument("--model", type=Path, help="where to write it (default INTAKE_NLU_MODEL_PATH)")
    train.set_defaults(handler=_train)

    parse = nlu.add_parser("parse", help="parse TEXT, or one message per stdin line (one JSON per line)")
    parse.add_argument("text", nargs="?", help="the message; without it, read stdin")
    parse.add_argument("--lang", help="language hint, e.g. fr")
    parse.add_argument("--model", type=Path, help="model file (default INTAKE_NLU_MODEL_PATH)")
    parse.add_argument("--data", type=Path, help="training data, if the model must be trained first")
    parse.add_argument("--pretty", action="store_true", help="indented JSON")
    parse.set_defaults(handler=_parse)

    evaluate = nlu.add_parser("eval", help="cross-validated report, like rasa test nlu")
    evaluate.add_argument("--data", type=Path, help="training data folder (default nlu/data)")
    evaluate.add_argument("--folds", type=int, default=5)
    evaluate.add_argument("--lang", action="append", help="only these languages (repeatable)")
    evaluate.add_argument("--leave-out", action="append", metavar="LANG",
                          help="leave-one-language-out languages (default: a few; 'none' for none)")
    evaluate.add_argument("--confusions", type=int, default=15, help="how many confusions to list")
    evaluate.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    evaluate.add_argument("--heldout", nargs="?", const=True, default=None, type=Path, metavar="DIR",
                          help="instead: the trained model on the held-out messages (default nlu/eval): "
                               "out-of-scope routing and realistic accuracy per language and intent")
    evaluate.add_argument("--model", type=Path, help="with --heldout: model file (default INTAKE_NLU_MODEL_PATH)")
    evaluate.add_argument("--misses", type=int, default=30, help="with --heldout: how many misses to list")
    evaluate.set_defaults(handler=_eval)


def _model_path(settings: Any, given: Path | None) -> Path:
    from .service import default_model_path

    return given or Path(getattr(settings, "nlu_model_path", None) or default_model_path())


def _validate(settings: Any, args: argparse.Namespace) -> int:
    from .data import default_data_dir
    from .validate import MIN_EXAMPLES, run

    return run(args.data or default_data_dir(), min_examples=args.min_examples or MIN_EXAMPLES,
               languages=args.lang, quiet=args.quiet)


def _train(settings: Any, args: argparse.Namespace) -> int:
    from .data import default_data_dir, load
    from .model import train

    data = load(args.data or default_data_dir())
    for problem in data.problems:
        print(problem, file=sys.stderr)
    if not data.examples:
        print("no training data", file=sys.stderr)
        return 1
    model = train(data)
    path = _model_path(settings, args.model)
    model.save(path)
    t = model.trained
    print(f"trained on {t.examples} examples in {len(t.languages)} languages ({', '.join(t.languages)}) "
          f"in {t.seconds:.1f} s")
    print(f"intent features {t.intent_features}, language features {t.language_features}; "
          f"temperature {t.temperature:.3f}, urgent_help threshold {t.urgent_threshold:.3f}, "
          f"fallback threshold {model.config.fallback_threshold}")
    print(f"model: {path} ({path.stat().st_size / 1e6:.1f} MB, fingerprint {model.fingerprint})")
    return 0


def _parse(settings: Any, args: argparse.Namespace) -> int:
    from .service import EmbeddedNLU, load_model

    model = load_model(_model_path(settings, args.model), args.data)
    nlu = EmbeddedNLU(model, getattr(settings, "timezone", "Europe/Brussels"))
    indent = 2 if args.pretty else None
    if args.text is not None:
        print(json.dumps(nlu.parse_sync(args.text, args.lang), ensure_ascii=False, indent=indent))
        return 0
    for line in sys.stdin:
        text = line.rstrip("\r\n")
        print(json.dumps(nlu.parse_sync(text, args.lang), ensure_ascii=False, indent=indent), flush=True)
    return 0


def _eval(settings: Any, args: argparse.Namespace) -> int:
    from .data import default_data_dir, load
    from .evaluate import DEFAULT_LEAVE_OUT, report, run

    started = time.perf_counter()
    if args.heldout is not None:
        return _eval_heldout(settings, args)
    data = load(args.data or default_data_dir(), args.lang)
    if not data.examples:
        print("no training data", file=sys.stderr)
        return 1
    leave_out = DEFAULT_LEAVE_OUT if args.leave_out is None else [x for x in args.leave_out if x != "none"]
    figures = run(data, folds=args.folds, leave_out=leave_out)
    print(report(figures, confusions=args.confusions))
    print(f"(evaluated in {time.perf_counter() - started:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


def _eval_heldout(settings: Any, args: argparse.Namespace) -> int:
    from . import heldout
    from .service import load_model

    data = heldout.load_heldout(None if args.heldout is True else args.heldout, args.lang)
    if not data.examples:
        print("no held-out messages", file=sys.stderr)
        return 1
    model = load_model(_model_path(settings, args.model), args.data)
    figures = heldout.run(model, data)
    print(heldout.report(figures, misses=args.misses))
    if args.json:
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0
