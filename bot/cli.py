"""``intake``: serve, chat, flows, db and cases commands."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from datetime import date, datetime

from .config import Settings


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    settings = Settings()
    from .logs import configure

    configure(settings.log_level, log_format=settings.log_format)  # redacts what may be personal (logs.py)
    from .config import MissingKeys
    from .content import ContentError
    from .engine.loader import FlowError
    from .store.keys import LookupKeyChanged

    try:
        return int(args.handler(settings, args) or 0)
    except (FlowError, ContentError, MissingKeys, LookupKeyChanged) as exc:
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
    hold = cases.add_parser("hold", help="keep a case through erasure and retention (a legal hold), or release it")
    hold.add_argument("reference")
    which = hold.add_mutually_exclusive_group(required=True)
    which.add_argument("--reason", help="why it must be kept (recorded in its history)")
    which.add_argument("--release", action="store_true", help="end the hold")
    hold.add_argument("--actor", default="cli", help="who decides (recorded)")
    hold.set_defaults(handler=_cases_hold)
    erase = cases.add_parser("erase", help="erase a case on request: its personal data, bookings and transcript")
    erase.add_argument("reference")
    erase.add_argument("--reason", required=True, help="why (kept with the anonymous trace; no personal data)")
    erase.add_argument("--actor", default="cli", help="who erases (recorded)")
    erase.set_defaults(handler=_cases_erase)
    reindex = cases.add_parser(
        "reindex", help="compute the search indexes of names, dates of birth and phones again (online, in batches)"
    )
    reindex.add_argument("--batch", type=int, default=1000, help="cases per transaction")
    reindex.set_defaults(handler=_cases_reindex)

    bench = sub.add_parser("bench", help="load a running server with whole journeys over REST; print the rates")
    bench.add_argument("url", help="the server, e.g. http://127.0.0.1:8080")
    bench.add_argument("--concurrency", type=int, default=20, help="simulated applicants at once (default 20)")
    bench.add_argument("--seconds", type=float, default=10.0, help="how long to measure (default 10)")
    bench.set_defaults(handler=_bench)

    _slots_commands(sub)
    _staff_commands(sub)
    _webhook_commands(sub)

    keys = sub.add_parser("keys", help="encryption and lookup keys").add_subparsers(metavar="ACTION")
    generate = keys.add_parser("generate", help="print a new encryption key and a new lookup key")
    generate.set_defaults(handler=_keys_generate)
    show = keys.add_parser("show-lookup-key", help="print the lookup key in use (to pin it in INTAKE_LOOKUP_KEY)")
    show.set_defaults(handler=_keys_show_lookup)
    rotate = keys.add_parser(
        "rotate", help="re-encrypt everything under the first of INTAKE_SECRET_KEYS (online, in batches)"
    )
    rotate.add_argument("--new-lookup-key", metavar="KEY",
                        help="also re-compute every keyed hash with this lookup key, given as --new-lookup-key=KEY "
                        "(a key may start with '-'); stop the servers first, then start them with INTAKE_LOOKUP_KEY set to it")
    rotate.add_argument("--batch", type=int, default=500, help="rows per transaction")
    rotate.set_defaults(handler=_keys_rotate)

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
    _check_keys(settings)
    return build_services(settings)


def _check_keys(settings: Settings) -> None:
    """Refuse to start with a lookup key the database was not written with (on a store of
    its own: the services' store must first be used in the loop that serves); then build
    the cases' search indexes if they are missing or stale (after their migration: it
    cannot compute them, having no key)."""
    from .store.case_search import ensure_search_index
    from .store.keys import verify_lookup_key
    from .store.store import Store

    async def run() -> None:
        store = Store.connect(settings.resolved_database_url(), settings.cipher())
        try:
            await verify_lookup_key(store)
            indexed = await ensure_search_index(store)
            if indexed is not None:
                logging.getLogger(__name__).info("search index built for %d cases", indexed)
        finally:
            await store.close()

    asyncio.run(run())


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


def _cases_hold(settings: Settings, args: argparse.Namespace) -> int:
    from .cases.references import normalise
    from .engine.turn import utcnow

    reference = normalise(args.reference) or args.reference
    if args.reason is not None and not args.reason.strip():
        print("error: --reason must say why the case is kept", file=sys.stderr)
        return 2
    store = _store(settings)

    async def run() -> int:
        try:
            case = await store.set_legal_hold(
                reference, None if args.release else args.reason, utcnow(), actor=args.actor
            )
        finally:
            await store.close()
        if case is None:
            print(f"no case {reference}", file=sys.stderr)
            return 1
        print(f"{reference}: legal hold released" if args.release else f"{reference}: under legal hold")
        return 0

    return asyncio.run(run())


def _cases_erase(settings: Settings, args: argparse.Namespace) -> int:
    from .cases.references import normalise
    from .engine.turn import utcnow

    reference = normalise(args.reference) or args.reference
    if not args.reason.strip():
        print("error: --reason must say why the case is erased", file=sys.stderr)
        return 2
    store = _store(settings)

    async def run() -> int:
        try:
            outcome = await store.erase_case(reference, utcnow(), actor=args.actor, reason=args.reason)
        finally:
            await store.close()
        if outcome == "missing":
            print(f"no case {reference}", file=sys.stderr)
            return 1
        if outcome == "held":
            print(f"{reference} is under a legal hold: release it first (intake cases hold --release)", file=sys.stderr)
            return 1
        print(f"{reference}: erased")
        return 0

    return asyncio.run(run())


def _cases_reindex(settings: Settings, args: argparse.Namespace) -> int:
    from .store.case_search import reindex

    store = _store(settings)  # checks the lookup key

    async def run() -> int:
        try:
            return await reindex(store, batch=max(args.batch, 1))
        finally:
            await store.close()

    print(json.dumps({"cases_indexed": asyncio.run(run())}))
    return 0


# --- keys ---------------------------------------------------------------------------


def _keys_generate(settings: Settings, args: argparse.Namespace) -> int:
    from .store.crypto import generate_key, generate_lookup_key

    print(f"encryption key: {generate_key()}")
    print(f"lookup key:     {generate_lookup_key()}")
    print("Put a new encryption key first in INTAKE_SECRET_KEYS (keep the old ones after it), restart, "
          "then run `intake keys rotate`; keep a copy of every key outside this machine.", file=sys.stderr)
    return 0


def _keys_show_lookup(settings: Settings, args: argparse.Namespace) -> int:
    print(settings.lookup_key_in_use())
    return 0


def _keys_rotate(settings: Settings, args: argparse.Namespace) -> int:
    from .store.crypto import Cipher
    from .store.keys import reencrypt, rehash

    new = None
    if args.new_lookup_key:
        try:
            new = Cipher(settings.keys(), args.new_lookup_key)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    store = _store(settings)

    async def run() -> dict[str, object]:
        try:
            done: dict[str, object] = {"reencrypted": await reencrypt(store, batch=max(args.batch, 1))}
            if new is not None:
                done["rehashed"] = await rehash(store, new)
            return done
        finally:
            await store.close()

    print(json.dumps(asyncio.run(run())))
    if new is not None:
        print("Now set INTAKE_LOOKUP_KEY to the new lookup key everywhere, then start the servers.", file=sys.stderr)
    return 0


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


def _store(settings: Settings):  # type: ignore[no-untyped-def]
    from .store.migrate import upgrade
    from .store.store import Store

    upgrade(settings.resolved_database_url())
    _check_keys(settings)
    return Store.connect(settings.resolved_database_url(), settings.cipher(), retention=settings.retention())


def _slots_add(settings: Settings, args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    from .store.appointments import SlotPlanError, plan_slots

    try:  # the same rules as the back office's slot form
        plan = plan_slots(args.start, args.end, args.every, args.capacity, args.place, ZoneInfo(settings.timezone))
    except SlotPlanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    store = _store(settings)

    async def run() -> int:
        try:
            return await store.add_plan(plan)
        finally:
            await store.close()

    print(f"{asyncio.run(run())} slots created")
    return 0


def _slots_list(settings: Settings, args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(settings.timezone)
    store = _store(settings)

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


# --- staff accounts and organisations (the back office) -------------------------------


def _staff_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from .store.staff import ROLES

    users = sub.add_parser("users", help="back-office staff accounts").add_subparsers(metavar="ACTION")
    add = users.add_parser("add", help="create a staff account")
    add.add_argument("email")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--org", required=True, help="organisation slug (see `intake orgs list`)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(handler=_users_add)
    listing = users.add_parser("list", help="staff accounts: e-mail, role, organisation, on duty, disabled")
    listing.add_argument("--org")
    listing.set_defaults(handler=_users_list)
    disable = users.add_parser("disable", help="disable an account and end its sessions at once")
    disable.add_argument("email")
    disable.set_defaults(handler=_users_disable)
    reset = users.add_parser("reset-totp", help="take away an account's second factor (a lost phone); audited")
    reset.add_argument("email")
    reset.set_defaults(handler=_users_reset_totp)
    password = users.add_parser(
        "set-password", help="give an account a new password (a forgotten one) and end its sessions; audited"
    )
    password.add_argument("email")
    password.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    password.set_defaults(handler=_users_set_password)

    tokens = sub.add_parser("tokens", help="staff API tokens (/api/v1)").add_subparsers(metavar="ACTION")
    create = tokens.add_parser("create", help="make a token; it is printed once, alone on the last line")
    create.add_argument("--role", required=True, choices=ROLES, help="the token acts as a staff member of this role")
    create.add_argument("--org", required=True, help="… of this organisation (see `intake orgs list`)")
    create.add_argument("--name", required=True, help="what it is for, e.g. iom-crm (lower case)")
    create.add_argument("--expires", type=int, metavar="DAYS", help="refused after this many days (default: never)")
    create.set_defaults(handler=_tokens_create)
    tokens.add_parser("list", help="tokens: name, role, organisation, created, expires, last used, state").set_defaults(
        handler=_tokens_list
    )
    revoke = tokens.add_parser("revoke", help="refuse a token from now on")
    revoke.add_argument("token", metavar="NAME|ID")
    revoke.set_defaults(handler=_tokens_revoke)

    orgs = sub.add_parser("orgs", help="organisations and the case kinds they see").add_subparsers(metavar="ACTION")
    orgs.add_parser("list", help="organisations with their case kinds and rules").set_defaults(handler=_orgs_list)
    org_add = orgs.add_parser("add", help="add an organisation")
    org_add.add_argument("slug")
    org_add.add_argument("name")
    org_add.set_defaults(handler=_orgs_add)


def _staff_run(settings: Settings, action, service=None, refused=None):  # type: ignore[no-untyped-def]
    """Run ``action(directory)`` (or ``action(service(store))``) against the migrated
    database; StaffError (or ``refused``) → printed, None."""
    from .store.staff import StaffDirectory, StaffError

    store = _store(settings)

    async def run():  # type: ignore[no-untyped-def]
        try:
            return await action((service or StaffDirectory)(store))
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except (refused or StaffError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass("Password (12 characters or more): ")
    if getpass.getpass("Same password again: ") != first:
        raise SystemExit("error: the passwords differ")
    return first


def _users_add(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import timezone

    password = _read_password(args)
    user = _staff_run(settings, lambda d: d.add_user(args.email, password, args.role, args.org, datetime.now(timezone.utc)))
    if user is None:
        return 2
    print(f"user {user.email} added: {user.role} of {user.organisation}")
    return 0


def _users_list(settings: Settings, args: argparse.Namespace) -> int:
    users = _staff_run(settings, lambda d: d.users(args.org))
    print(f"{'EMAIL':<36} {'ROLE':<10} {'ORGANISATION':<20} {'ON DUTY':<7} STATE")
    for user in users or []:
        print(f"{user.email:<36} {user.role:<10} {user.organisation:<20} {'yes' if user.on_duty else 'no':<7} "
              f"{'disabled' if user.disabled else 'active'}")
    return 0


def _users_disable(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import timezone

    async def disable(directory):  # type: ignore[no-untyped-def]
        now = datetime.now(timezone.utc)
        await directory.disable_user(args.email, now)
        user = await directory.user(args.email)
        await directory.audit("cli", "user_disable", now, detail=f"user={user.id}")
        return True

    if _staff_run(settings, disable) is None:
        return 2
    print(f"user {args.email} disabled; their sessions are ended")
    return 0


def _tokens_create(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import timezone

    from .store.tokens import TokenStore

    made = _staff_run(settings, lambda t: t.create(
        args.name, args.role, args.org, datetime.now(timezone.utc), created_by="cli", days=args.expires,
    ), TokenStore)
    if made is None:
        return 2
    info, token = made
    expiry = f", expires {info.expires_at:%Y-%m-%d %H:%M} UTC" if info.expires_at else ""
    print(f"token {info.name} (id {info.id}) created: {info.role} of {info.organisation}{expiry}")
    print("It is shown only now; keep it in a secret store. Send it as: Authorization: Bearer <token>")
    print(token)
    return 0


def _tokens_list(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import timezone

    from .store.tokens import TokenStore

    tokens = _staff_run(settings, lambda t: t.list(), TokenStore)
    now = datetime.now(timezone.utc)

    def when(moment: datetime | None) -> str:
        return f"{moment:%Y-%m-%d %H:%M}" if moment else "-"

    print(f"{'ID':>4} {'NAME':<24} {'ROLE':<10} {'ORGANISATION':<20} {'CREATED':<16} {'EXPIRES':<16} "
          f"{'LAST USED':<16} STATE")
    for t in tokens or []:
        print(f"{t.id:>4} {t.name:<24} {t.role:<10} {t.organisation:<20} {when(t.created_at):<16} "
              f"{when(t.expires_at):<16} {when(t.last_used_at):<16} {t.state(now)}"
              + (f" {when(t.revoked_at)}" if t.revoked_at else ""))
    return 0


def _tokens_revoke(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import timezone

    from .store.tokens import TokenStore

    info = _staff_run(settings, lambda t: t.revoke(args.token, datetime.now(timezone.utc)), TokenStore)
    if info is None:
        return 2
    print(f"token {info.name} revoked; it is refused from now on")
    return 0


def _users_reset_totp(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import timezone

    async def reset(directory):  # type: ignore[no-untyped-def]
        await directory.reset_totp(args.email)
        user = await directory.user(args.email)
        await directory.audit("cli", "totp_reset", datetime.now(timezone.utc), detail=f"user={user.id}")
        return True

    if _staff_run(settings, reset) is None:
        return 2
    print(f"user {args.email}: second factor removed; they sign in with their password and can enrol again")
    return 0


def _users_set_password(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import timezone

    password = _read_password(args)

    async def set_password(directory):  # type: ignore[no-untyped-def]
        now = datetime.now(timezone.utc)
        await directory.set_password(args.email, password, now)
        user = await directory.user(args.email)
        await directory.audit("cli", "password_reset", now, detail=f"user={user.id}")
        return True

    if _staff_run(settings, set_password) is None:
        return 2
    print(f"user {args.email}: new password set; their sessions are ended (they can change it on their profile)")
    return 0


def _orgs_list(settings: Settings, args: argparse.Namespace) -> int:
    orgs = _staff_run(settings, lambda d: d.organisations())
    print(f"{'SLUG':<20} {'NAME':<28} CASE KINDS (RULE)")
    for slug, name, access in orgs or []:
        kinds = ", ".join(f"{kind} ({rule})" for kind, rule in access) or "-"
        print(f"{slug:<20} {name:<28} {kinds}")
    return 0


def _orgs_add(settings: Settings, args: argparse.Namespace) -> int:
    async def add(directory):  # type: ignore[no-untyped-def]
        await directory.add_organisation(args.slug, args.name)
        return True

    if _staff_run(settings, add) is None:
        return 2
    print(f"organisation {args.slug} added")
    return 0


# --- webhooks: case events to other systems (bot/store/outbox.py, bot/webhooks.py) ----------


def _webhook_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    hooks = sub.add_parser("webhooks", help="case events POSTed to other systems").add_subparsers(metavar="ACTION")
    add = hooks.add_parser("add", help="send an organisation's case events to URL (running servers take it up)")
    add.add_argument("url")
    add.add_argument("--org", required=True, help="organisation slug: only the cases it may see are sent")
    add.add_argument("--events", required=True,
                     help="comma-separated: case.created,case.updated,case.message,case.withdrawn,case.erased")
    secret = add.add_mutually_exclusive_group(required=True)
    secret.add_argument("--secret", help="the signing secret (16 characters or more)")
    secret.add_argument("--secret-stdin", action="store_true", help="read the signing secret from standard input")
    add.set_defaults(handler=_webhooks_add)
    listing = hooks.add_parser("list", help="webhooks: id, organisation, events, pending and parked deliveries, URL")
    listing.add_argument("--org")
    listing.set_defaults(handler=_webhooks_list)
    remove = hooks.add_parser("remove", help="remove a webhook and its deliveries not yet made")
    remove.add_argument("id", type=int)
    remove.set_defaults(handler=_webhooks_remove)
    deliveries = hooks.add_parser("deliveries", help="the latest deliveries, newest first")
    deliveries.add_argument("--failed", action="store_true", help="only those parked after too many attempts")
    deliveries.add_argument("--webhook", type=int, help="only this webhook's")
    deliveries.add_argument("--limit", type=int, default=50)
    deliveries.set_defaults(handler=_webhooks_deliveries)
    resend = hooks.add_parser("resend", help="try a parked (or dismissed) delivery again, same key and body")
    resend.add_argument("id", type=int)
    resend.set_defaults(handler=_webhooks_resend)
    dismiss = hooks.add_parser("dismiss", help="give up a parked delivery: its case's later ones go on")
    dismiss.add_argument("id", type=int)
    dismiss.set_defaults(handler=_webhooks_dismiss)


def _webhooks_run(settings: Settings, action):  # type: ignore[no-untyped-def]
    """Run ``action(webhooks)`` against the migrated database; WebhookError → None."""
    from .store.outbox import WebhookError, Webhooks

    return _staff_run(settings, action, Webhooks, refused=WebhookError)


def _webhooks_add(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import timezone

    secret = sys.stdin.readline().rstrip("\r\n") if args.secret_stdin else args.secret
    hook = _webhooks_run(settings, lambda w: w.add(args.org, args.url, args.events, secret, actor="cli",
                                                   now=datetime.now(timezone.utc)))
    if hook is None:
        return 2
    print(f"webhook {hook.id} added: {', '.join(hook.events)} of {hook.organisation} to {hook.url}")
    return 0


def _webhooks_list(settings: Settings, args: argparse.Namespace) -> int:
    hooks = _webhooks_run(settings, lambda w: w.list(args.org))
    print(f"{'ID':>4} {'ORGANISATION':<20} {'PENDING':>7} {'PARKED':>6} {'EVENTS':<40} URL")
    for h in hooks or []:
        print(f"{h.id:>4} {h.organisation:<20} {h.pending:>7} {h.parked:>6} {','.join(h.events):<40} {h.url}")
    return 0


def _webhooks_remove(settings: Settings, args: argparse.Namespace) -> int:
    if not _webhooks_run(settings, lambda w: w.remove(args.id)):
        print(f"error: no webhook {args.id} (see `intake webhooks list`)", file=sys.stderr)
        return 2
    print(f"webhook {args.id} removed")
    return 0


def _webhooks_deliveries(settings: Settings, args: argparse.Namespace) -> int:
    rows = _webhooks_run(settings, lambda w: w.deliveries(failed_only=args.failed, webhook_id=args.webhook,
                                                          limit=max(1, args.limit)))
    print(f"{'ID':>6} {'HOOK':>4} {'STATUS':<10} {'TRIES':>5} {'EVENT':<15} {'CASE':<10} {'LAST ERROR':<22} KEY")
    for d in rows or []:
        print(f"{d.id:>6} {d.webhook_id:>4} {d.status:<10} {d.attempts:>5} {d.event:<15} {d.reference:<10} "
              f"{d.last_error or '-':<22} {d.key}")
    return 0


def _webhooks_resend(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import timezone

    if not _webhooks_run(settings, lambda w: w.resend(args.id, datetime.now(timezone.utc))):
        print(f"error: delivery {args.id} is not parked nor dismissed (see `intake webhooks deliveries --failed`)",
              file=sys.stderr)
        return 2
    print(f"delivery {args.id} will be sent again")
    return 0


def _webhooks_dismiss(settings: Settings, args: argparse.Namespace) -> int:
    if not _webhooks_run(settings, lambda w: w.dismiss(args.id)):
        print(f"error: delivery {args.id} is not parked (see `intake webhooks deliveries --failed`)", file=sys.stderr)
        return 2
    print(f"delivery {args.id} dismissed; its case's later deliveries go on")
    return 0


if __name__ == "__main__":
    sys.exit(main())
