"""The admin screens: staff accounts (add, change role or organisation, disable and
enable, who is on duty now), organisations, and the need-to-know table (which
organisation sees which case kind under which rule, models.KindAccess).

Every change goes through the store's StaffDirectory (the same code as ``intake users``
and ``intake orgs``) and is written to the audit log as ids and slugs, never as the
values themselves. A new account gets an initial password from the admin, given to the
person out of band (the back office sends no e-mail of its own for accounts); they can
then add a second factor from their profile.

A refused form is shown again with a message in the admin's language (status 400); a
change that went through redirects back with a short confirmation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from ..cases.kinds import KINDS
from ..i18n import S_
from ..store.staff import MIN_PASSWORD, ROLES, RULES, SLUG, Staff, StaffError
from .framework import BACKOFFICE, FORM, LANGUAGE, PREFIX, STAFF, Route, guarded, render
from .i18n import staff_translations

USERS = f"{PREFIX}/admin/users"
ORGANISATIONS = f"{PREFIX}/admin/organisations"

RULE_TITLES = {
    "always": S_("Always"),
    "shared": S_("If the applicant agreed to share"),
    "vulnerable": S_("If a vulnerability flag is set"),
    "on_duty": S_("Its staff on duty"),
}
ERRORS = {
    "exists": S_("There is already an account with this e-mail address."),
    "bad_email": S_("This is not an e-mail address."),
    "short_password": S_("The password needs at least {minimum} characters."),
    "bad_role": S_("Choose one of the roles."),
    "no_org": S_("Choose one of the organisations."),
    "no_user": S_("There is no such account."),
    "bad_slug": S_("The short name takes lower-case letters, digits and hyphens (at most 63)."),
    "org_exists": S_("There is already an organisation with this short name."),
    "no_name": S_("Give the organisation's name."),
    "bad_rule": S_("Choose one of the rules."),
    "yourself": S_("You cannot disable your own account or take away your own admin role; ask another admin."),
}
DONE = {
    "added": S_("The account is added."),
    "changed": S_("The account is changed."),
    "disabled": S_("The account is disabled; its sessions are ended."),
    "enabled": S_("The account is enabled again."),
    "org_added": S_("The organisation is added."),
    "rules": S_("The access rules are saved."),
    "nothing": S_("Nothing was changed."),
}


def _say(request: web.Request, code: str | None, table: Mapping[str, str] = ERRORS) -> str | None:
    """The message of ``code`` in the admin's language (None for no or an unknown code)."""
    if code not in table:
        return None
    return staff_translations(request[LANGUAGE]).gettext(table[code]).format(minimum=MIN_PASSWORD)


# --- staff accounts ------------------------------------------------------------------------


async def _users_page(
    request: web.Request, error: str | None = None, status: int = 200, typed: Mapping[str, Any] | None = None
) -> web.Response:
    bo = request.app[BACKOFFICE]
    users = await bo.staff.users()
    organisations = await bo.staff.organisations()
    return render(
        request,
        "admin_users.html",
        {
            "users": users,
            "on_duty": [u for u in users if u.on_duty and not u.disabled],
            "roles": ROLES,
            "organisations": [(slug, name) for slug, name, _ in organisations],
            "message": _say(request, error),
            "done": _say(request, request.query.get("done"), DONE) if status == 200 else None,
            "typed": typed or {},
        },
        status=status,
    )


def _back(path: str, done: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"{path}?done={done}")


@guarded("manage_users")
async def users_page(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    await bo.staff.audit(request[STAFF], "admin_users", bo.clock())
    return await _users_page(request)


@guarded("manage_users")
async def add_user(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    form = request[FORM]
    email, role, organisation = (str(form.get(name, "")).strip()[:254] for name in ("email", "role", "organisation"))
    password = str(form.get("password", ""))[:1024]
    try:
        added = await bo.staff.add_user(email, password, role, organisation, bo.clock())
    except StaffError as error:
        typed = {"email": email, "role": role, "organisation": organisation}
        return await _users_page(request, error.code if error.code in ERRORS else "bad_email", 400, typed)
    await bo.staff.audit(
        request[STAFF], "user_add", bo.clock(), detail=f"user={added.id} role={added.role} org={added.organisation}"
    )
    raise _back(USERS, "added")


async def _target(request: web.Request) -> Staff | None:
    try:
        user_id = int(request.match_info["user_id"])
    except ValueError:
        return None
    return await request.app[BACKOFFICE].staff.user_by_id(user_id)


@guarded("manage_users")
async def change_user(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    me: Staff = request[STAFF]
    target = await _target(request)
    if target is None:
        return await _users_page(request, "no_user", 404)
    form = request[FORM]
    role, organisation = str(form.get("role", ""))[:16], str(form.get("organisation", ""))[:64]
    if target.id == me.id and role != "admin":
        return await _users_page(request, "yourself", 400)
    if (role, organisation) == (target.role, target.organisation):
        raise _back(USERS, "nothing")
    try:
        changed = await bo.staff.change_user(target.email, role, organisation)
    except StaffError as error:
        return await _users_page(request, error.code if error.code in ERRORS else "no_user", 400)
    await bo.staff.audit(
        me, "user_change", bo.clock(),
        detail=f"user={target.id} role={target.role}->{changed.role} org={target.organisation}->{changed.organisation}",
    )
    raise _back(USERS, "changed")


@guarded("manage_users")
async def disable_user(request: web.Request) -> web.StreamResponse:
    """Disable an account: the store revokes its sessions in the same transaction."""
    bo = request.app[BACKOFFICE]
    me: Staff = request[STAFF]
    target = await _target(request)
    if target is None:
        return await _users_page(request, "no_user", 404)
    if target.id == me.id:
        return await _users_page(request, "yourself", 400)
    await bo.staff.disable_user(target.email, bo.clock())
    await bo.staff.audit(me, "user_disable", bo.clock(), detail=f"user={target.id}")
    raise _back(USERS, "disabled")


@guarded("manage_users")
async def enable_user(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    target = await _target(request)
    if target is None:
        return await _users_page(request, "no_user", 404)
    await bo.staff.enable_user(target.email)
    await bo.staff.audit(request[STAFF], "user_enable", bo.clock(), detail=f"user={target.id}")
    raise _back(USERS, "enabled")


# --- organisations and need-to-know -------------------------------------------------------


async def _organisations_page(
    request: web.Request, error: str | None = None, status: int = 200, typed: Mapping[str, Any] | None = None
) -> web.Response:
    bo = request.app[BACKOFFICE]
    organisations = await bo.staff.organisations()
    rules = {(kind, slug): rule for slug, _, access in organisations for kind, rule in access}
    return render(
        request,
        "admin_organisations.html",
        {
            "organisations": organisations,
            "rules": rules,
            "rule_names": RULES,
            "rule_titles": RULE_TITLES,
            "kind_names": tuple(KINDS),
            "message": _say(request, error),
            "done": _say(request, request.query.get("done"), DONE) if status == 200 else None,
            "typed": typed or {},
        },
        status=status,
    )


@guarded("manage_orgs")
async def organisations_page(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    await bo.staff.audit(request[STAFF], "admin_orgs", bo.clock())
    return await _organisations_page(request)


@guarded("manage_orgs")
async def add_organisation(request: web.Request) -> web.StreamResponse:
    bo = request.app[BACKOFFICE]
    form = request[FORM]
    slug, name = str(form.get("slug", "")).strip()[:64], str(form.get("name", "")).strip()[:200]
    typed = {"slug": slug, "name": name}
    if not SLUG.fullmatch(slug):
        return await _organisations_page(request, "bad_slug", 400, typed)
    if not name:
        return await _organisations_page(request, "no_name", 400, typed)
    try:
        await bo.staff.add_organisation(slug, name)
    except StaffError as error:
        return await _organisations_page(request, error.code if error.code in ERRORS else "bad_slug", 400, typed)
    await bo.staff.audit(request[STAFF], "org_add", bo.clock(), detail=f"org={slug}")
    raise _back(ORGANISATIONS, "org_added")


@guarded("manage_orgs")
async def save_rules(request: web.Request) -> web.StreamResponse:
    """Apply the cells of the table that the admin changed.

    Each cell posts the rule it showed (``was.KIND.ORG``) next to the chosen one
    (``rule.KIND.ORG``); only cells whose choice differs from what was shown are written,
    so two admins editing different cells at once do not undo each other.
    """
    bo = request.app[BACKOFFICE]
    form = request[FORM]
    slugs = [slug for slug, _, _ in await bo.staff.organisations()]
    changes = []
    for kind in KINDS:
        for slug in slugs:
            field = f"{kind}.{slug}"
            if f"rule.{field}" not in form:
                continue
            chosen, shown = str(form.get(f"rule.{field}", "")), str(form.get(f"was.{field}", ""))
            if chosen not in ("", *RULES) or shown not in ("", *RULES):
                return await _organisations_page(request, "bad_rule", 400)
            if chosen != shown:
                changes.append((kind, slug, shown, chosen))
    if not changes:
        raise _back(ORGANISATIONS, "nothing")
    for kind, slug, shown, chosen in changes:
        await bo.staff.set_kind_access(kind, slug, chosen or None)
        await bo.staff.audit(
            request[STAFF], "kind_access", bo.clock(), detail=f"{kind}:{slug}:{shown or '-'}->{chosen or '-'}"
        )
    raise _back(ORGANISATIONS, "rules")


ROUTES: tuple[Route, ...] = (
    ("GET", USERS, users_page),
    ("POST", USERS, add_user),
    ("POST", f"{USERS}/{{user_id}}/change", change_user),
    ("POST", f"{USERS}/{{user_id}}/disable", disable_user),
    ("POST", f"{USERS}/{{user_id}}/enable", enable_user),
    ("GET", ORGANISATIONS, organisations_page),
    ("POST", ORGANISATIONS, add_organisation),
    ("POST", f"{ORGANISATIONS}/rules", save_rules),
)
