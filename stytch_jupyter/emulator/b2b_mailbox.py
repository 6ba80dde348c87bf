"""The B2B part of the mailbox page: organizations, their settings and members, each member's
live sessions, and a form to remove a member (as an admin would, revoking its sessions).

Server-rendered, every value escaped, no script, like the rest of the mailbox.
"""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .b2b_models import RESTRICTED, Member, Organization
from .b2b_state import B2BState
from .defaults import CONTROL_PREFIX
from .errors import bad_request

REMOVE_MEMBER_PATH = f"{CONTROL_PREFIX}/b2b/mailbox/remove-member"
_BACK = "/#organizations"


def _settings_line(org: Organization) -> str:
    parts = [f"slug <code>{escape(org.organization_slug)}</code>"]
    if org.email_jit_provisioning == RESTRICTED and org.email_allowed_domains:
        parts.append("JIT for " + escape(", ".join(org.email_allowed_domains)))
    if org.auth_methods == RESTRICTED:
        parts.append("sign-in by " + escape(", ".join(org.allowed_auth_methods) or "nothing"))
    parts.append(f"MFA {escape(org.mfa_policy)}")
    for connection in org.sso_connections:
        parts.append(
            f"SSO {escape(connection.kind.upper())} {escape(connection.display_name)} "
            f"<code>{escape(connection.connection_id)}</code>"
        )
    return " · ".join(parts)


def _member_row(b2b: B2BState, org: Organization, member: Member) -> str:
    mfa = []
    if member.mfa_phone_number:
        mfa.append(escape(member.mfa_phone_number))
    if member.totp_registration_id:
        mfa.append("TOTP")
    if member.mfa_enrolled:
        mfa.append("enrolled")
    sessions = (
        b2b.sessions_of(org.organization_id, member.member_id) if member.status != "deleted" else []
    )
    live = (
        "<br>".join(
            f"<code>{escape(s.member_session_id)}</code> "
            f"{escape(', '.join(f.type for f in s.factors))} · expires "
            f"{escape(s.expires_at.isoformat(timespec='seconds'))}"
            for s in sessions
        )
        or '<span class="empty">no live session</span>'
    )
    remove = ""
    if member.status != "deleted":
        remove = (
            f'<form method="post" action="{escape(REMOVE_MEMBER_PATH)}">'
            f'<input type="hidden" name="organization_id" value="{escape(org.organization_id)}">'
            f'<input type="hidden" name="member_id" value="{escape(member.member_id)}">'
            '<button type="submit">Remove</button></form>'
        )
    return (
        f"<tr><td>{escape(member.email_address)}<br><code>{escape(member.member_id)}</code></td>"
        f"<td>{escape(member.status)}</td><td>{' · '.join(mfa) or '—'}</td>"
        f"<td>{live}</td><td>{remove}</td></tr>"
    )


def organizations_html(b2b: B2BState) -> str:
    """The "Organizations and members" section of the mailbox page."""
    orgs = b2b.organizations()
    if not orgs:
        body = '<p class="empty">No organizations yet: create one with the control API.</p>'
    else:
        blocks = []
        for org in orgs:
            rows = "".join(_member_row(b2b, org, m) for m in b2b.members(org.organization_id))
            table = (
                "<table><tr><th>Member</th><th>Status</th><th>MFA</th><th>Live sessions</th>"
                f"<th></th></tr>{rows}</table>"
                if rows
                else '<p class="empty">No members.</p>'
            )
            blocks.append(
                f'<div class="org"><h3>{escape(org.organization_name)}</h3>'
                f'<p class="meta">{_settings_line(org)}</p>{table}</div>'
            )
        body = "".join(blocks)
    return f'<h2 id="organizations">Organizations and members</h2>{body}'


def b2b_mailbox_routes(b2b: B2BState) -> list[Route]:
    async def remove_member(request: Request) -> Response:
        raw = await request.body()
        try:
            form = parse_qs(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise bad_request("The form is not valid.") from None
        organization_id = (form.get("organization_id") or [""])[0]
        member_id = (form.get("member_id") or [""])[0]
        if not organization_id or not member_id:
            raise bad_request("organization_id and member_id are required.")
        b2b.delete_member(organization_id, member_id)
        return RedirectResponse(_BACK, status_code=303)

    return [Route(REMOVE_MEMBER_PATH, remove_member, methods=["POST"])]
