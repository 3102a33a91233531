"""``intake``: serve, chat, flows, db and cases commands."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from datetime import date, datetime, time, timedelta, tzinfo

from .config import Settings


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    settings = Settings()
    from .operations import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from .content import ContentError
    from .engine.loader import FlowError

    try:
        return int(args.handler(settings, args) or 0)
    except (FlowError, ContentError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="intake", description=__doc__)
    sub = parser.add_subparsers(metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--no-migrate", action="store_true", help="do not upgrade the schema at start")
    serve.add_argument("--workers", type=int, default=1,
                       help="server processes sharing the port (more than 1 needs PostgreSQL)")
    serve.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # one of --workers N
    serve.set_defaults(handler=_serve)

    chat = sub.add_parser("chat", help="chat with the bot in this terminal")
    chat.add_argument("--json", action="store_true", help="one message per line in, one JSON list per line out")
    chat.add_argument("--lang", help="language hint, e.g. fr")
    chat.add_argument("--sender", default="local", help="conversation id (default: local)")
    chat.set_defaults(handler=_chat)

    flows = sub.add_parser("flows", help="flow files").add_subparsers(metavar="ACTION")
    check = flows.add_parser("check", help="validate every flow and print a summary line each")
    check.set_defaults(handler=_flows_check)

    db = sub.add_parser("db", help="database").add_subparsers(metavar="ACTION")
    up = db.add_parser("upgrade", help="apply schema migrations")
    up.set_defaults(handler=_db_upgrade)
    purge = db.add_parser("purge", help="delete idle unfinished answers and old records now")
    purge.set_defaults(handler=_db_purge)

    cases = sub.add_parser("cases", help="cases, for local checking").add_subparsers(metavar="ACTION")
    listing = cases.add_parser("list", help="list cases")
    listing.add_argument("--kind")
    listing.add_argument("--status")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(handler=_cases_list)
    show = cases.add_parser("show", help="show one case as JSON")
    show.add_argument("reference")
    show.set_defaults(handler=_cases_show)

    bench = sub.add_parser("bench", help="load a running server with whole journeys over REST; print the rates")
    bench.add_argument("url", help="the server, e.g. http://127.0.0.1:8080")
    bench.add_argument("--concurrency", type=int, default=20, help="simulated applicants at once (default 20)")
    bench.add_argument("--seconds", type=float, default=10.0, help="how long to measure (default 10)")
    bench.set_defaults(handler=_bench)

    _slots_commands(sub)

    i18n = sub.add_parser("i18n", help="translations").add_subparsers(metavar="ACTION")
    i18n_check = i18n.add_parser(
        "check", help="a table per locale; exit 1 on a missing translation or a placeholder mismatch"
    )
    i18n_check.add_argument("--locale", action="append", help="only these locales (repeatable)")
    i18n_check.add_argument("--quiet", action="store_true", help="the table only, not each problem")
    i18n_check.set_defaults(handler=_i18n_check)

    from nlu.cli import add_commands as _nlu_commands

    _nlu_commands(sub)
    return parser


def _services(settings: Settings, migrate: bool = True):  # type: ignore[no-untyped-def]
    from .app import build_services
    from .store.migrate import upgrade

    if migrate:
        upgrade(settings.resolved_database_url())
    return build_services(settings)


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from aiohttp import web

    from .app import create_app, default_channels, prepare_process
    from .event_loop import new_event_loop

    host = args.host or settings.host
    port = args.port or settings.port
    if args.workers != 1:
        from .store.migrate import upgrade
        from .workers import serve_workers, several_workers_problem

        problem = several_workers_problem(settings, args.workers)
        if problem is not None:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        if not args.no_migrate:
            upgrade(settings.resolved_database_url())
        return serve_workers(args.workers, host, port)
    services = _services(settings, migrate=not args.no_migrate)
    if not args.worker:
        logging.getLogger(__name__).info("serving on http://%s:%s/", host, port)
    channels = default_channels(services)
    logging.getLogger(__name__).info("channels: %s", ", ".join(c.name for c in channels))
    prepare_process(services)
    web.run_app(
        create_app(services, channels), host=host, port=port, print=None, access_log=None, loop=new_event_loop(),
        reuse_port=args.worker or None,
    )
    return 0


def _bench(settings: Settings, args: argparse.Namespace) -> int:
    from .loadtest import main as load

    return load([args.url, "--concurrency", str(args.concurrency), "--seconds", str(args.seconds)])


def _chat(settings: Settings, args: argparse.Namespace) -> int:
    from .channels.terminal import run

    services = _services(settings)
    run(services.engine, sender=args.sender, language=args.lang, as_json=args.json, close=services.close)
    return 0


def _flows_check(settings: Settings, args: argparse.Namespace) -> int:
    from .app import runtime_facts
    from .engine.flow import AskStep
    from .engine.loader import load_flows

    flows = load_flows(settings.flows_dir, runtime_facts=runtime_facts(settings))
    for flow_id, flow in flows.flows.items():
        asks = flow.asks()
        print(
            f"{flows.files[flow_id].name}: {flow_id} → case {flow.case_kind}: "
            f"{len(flow.steps)} steps, {len(asks)} questions "
            f"({', '.join(sorted({a.type for a in asks if isinstance(a, AskStep)}))}), "
            f"{len(flow.facts())} facts"
        )
        print("  steps: " + " → ".join(step.id for step in flow.steps))
    stale = flows.content.stale(date.today())
    for fact in stale:
        print(f"stale fact: {fact.id} (review by {fact.review_by}, source {fact.source_url})")
    for fact_id, fact in flows.content.runtime().items():
        shown = fact.formatted() if fact is not None else "not set: the official websites are given instead"
        print(f"deployment fact: {fact_id} = {shown}")
    print(f"{len(flows.flows)} flows OK, {len(flows.content.all())} facts, {len(stale)} past review date")
    return 0


def _i18n_check(settings: Settings, args: argparse.Namespace) -> int:
    from .i18n_check import catalog_codes, check_locale, table
    from .resources import in_checkout

    if not in_checkout():
        print("intake i18n check reads the source catalogs: run it in a checkout of the repository",
              file=sys.stderr)
        return 2
    codes = args.locale or catalog_codes()
    reports = [check_locale(code) for code in codes]
    print(table(reports))
    if not args.quiet:
        for report in reports:
            for problem in report.problems():
                print(problem)
    failed = [r.code for r in reports if not r.ok]
    print(f"{len(reports) - len(failed)} of {len(reports)} catalogs complete and consistent"
          + (f"; failing: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def _db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    from .store.migrate import upgrade

    upgrade(settings.resolved_database_url())
    print("database is up to date")
    return 0


def _db_purge(settings: Settings, args: argparse.Namespace) -> int:
    services = _services(settings)

    async def run() -> dict[str, int]:
        try:
            return await services.engine.purge()
        finally:
            await services.close()

    print(json.dumps(asyncio.run(run())))
    return 0


def _cases_list(settings: Settings, args: argparse.Namespace) -> int:
    services = _services(settings)

    async def run() -> None:
        try:
            cases = await services.store.cases(kind=args.kind, status=args.status, limit=args.limit)
        finally:
            await services.close()
        print(f"{'REFERENCE':<11} {'KIND':<22} {'STATUS':<12} {'PRIORITY':<8} {'LANG':<5} {'CREATED':<17} FLAGS")
        for case in cases:
            created = case.created_at.strftime("%Y-%m-%d %H:%M")
            print(
                f"{case.reference:<11} {case.kind:<22} {case.status:<12} {case.priority:<8} "
                f"{case.language:<5} {created:<17} {','.join(case.flags)}"
            )

    asyncio.run(run())
    return 0


def _cases_show(settings: Settings, args: argparse.Namespace) -> int:
    from .cases.references import normalise

    services = _services(settings)
    reference = normalise(args.reference) or args.reference

    async def run() -> int:
        try:
            case = await services.store.case(reference)
        finally:
            await services.close()
        if case is None:
            print(f"no case {reference}", file=sys.stderr)
            return 1
        print(case.model_dump_json(indent=2))
        return 0

    return asyncio.run(run())


# --- slots: registration appointment times ------------------------------------------


def _slots_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    slots = sub.add_parser("slots", help="registration appointment times").add_subparsers(metavar="ACTION")
    add = slots.add_parser("add", help="create slots every so often between two local times")
    add.add_argument("--from", dest="start", required=True, help="first start, local time: 2026-12-01T09:00")
    add.add_argument("--to", dest="end", required=True, help="end (exclusive), local: 2026-12-01T12:00 or 12:00")
    add.add_argument("--every", required=True, help="15m, 1h, 90m, 1h30m")
    add.add_argument("--capacity", type=int, required=True, help="seats per slot")
    add.add_argument("--place", default="registration_centre", help="content fact id or place name")
    add.set_defaults(handler=_slots_add)
    listing = slots.add_parser("list", help="future slots with a free seat: local start, place, booked/capacity")
    listing.add_argument("--all", action="store_true", help="full slots too")
    listing.add_argument("--place")
    listing.add_argument("--limit", type=int, default=500)
    listing.set_defaults(handler=_slots_list)


def _duration(text: str) -> timedelta:
    import re

    match = re.fullmatch(r"\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*", text.lower())
    value = timedelta(hours=int(match[1] or 0), minutes=int(match[2] or 0)) if match else timedelta(0)
    if not value:
        raise ValueError(f"not a duration: {text!r} (try 15m, 1h, 90m)")
    return value


def _local(text: str, zone: tzinfo, day: date | None = None) -> datetime:
    """An ISO date-time in ``zone`` (unless it has an offset), or a bare time on ``day``."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        if day is None:
            raise ValueError(f"not a date and time: {text!r} (try 2026-12-01T09:00)") from None
        try:
            moment = datetime.combine(day, time.fromisoformat(text))
        except ValueError:
            raise ValueError(f"not a time: {text!r} (try 12:00)") from None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def _slot_store(settings: Settings):  # type: ignore[no-untyped-def]
    from .store.crypto import Cipher
    from .store.migrate import upgrade
    from .store.store import Store

    upgrade(settings.resolved_database_url())
    return Store.connect(settings.resolved_database_url(), Cipher(settings.keys()))


def _slots_add(settings: Settings, args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(settings.timezone)
    try:
        start = _local(args.start, zone)
        end = _local(args.end, zone, day=start.date())
        every = _duration(args.every)
        if args.capacity < 1 or end <= start:
            raise ValueError("need --capacity of at least 1 and --to after --from")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    store = _slot_store(settings)

    async def run() -> int:
        try:
            return await store.add_slots(start, end, every, args.capacity, place=args.place)
        finally:
            await store.close()

    print(f"{asyncio.run(run())} slots created")
    return 0


def _slots_list(settings: Settings, args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(settings.timezone)
    store = _slot_store(settings)

    async def run() -> list:  # type: ignore[type-arg]
        try:
            now = datetime.now(zone)
            return await store.slots(now, free_only=not args.all, limit=args.limit, place=args.place)
        finally:
            await store.close()

    slots = asyncio.run(run())
    for slot in slots:
        print(f"{slot.starts_at.astimezone(zone):%Y-%m-%d %H:%M}  {slot.place}  {slot.booked}/{slot.capacity}")
    if not slots:
        print("no future slots" + ("" if args.all else " with a free seat"), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
