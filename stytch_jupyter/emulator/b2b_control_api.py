"""The B2B part of the control API under ``/emulator/v1/b2b``: organizations (slug, email
domains and JIT, allowed auth methods, MFA policy, SSO connections) and their members (status,
password, MFA phone, TOTP), as an admin would set them up in Stytch's dashboard.

No auth (the emulator binds loopback); plain JSON; errors Stytch-shaped.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .b2b_models import Member, Organization, Totp
from .b2b_state import B2BState
from .defaults import CONTROL_PREFIX
from .errors import bad_request
from .wire import Body, read_body

B2B_CONTROL_PREFIX = f"{CONTROL_PREFIX}/b2b"


def string_list(body: Body, name: str) -> list[str] | None:
    """A field that must be a list of strings, if given."""
    value = body.raw(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request(f"{name} must be a list of strings.")
    return list(value)


def _member_json(member: Member, totp: Totp | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"member_id": member.member_id, "member": member.to_json()}
    if totp is not None:
        data["totp_secret"] = totp.secret
        data["recovery_codes"] = list(totp.recovery_codes)
    return data


def _organization_json(b2b: B2BState, org: Organization) -> dict[str, Any]:
    return {
        "organization_id": org.organization_id,
        "organization": org.to_json(),
        "members": [m.to_json() for m in b2b.members(org.organization_id)],
    }


def b2b_control_routes(b2b: B2BState) -> list[Route]:
    async def create_organization(request: Request) -> JSONResponse:
        body = await read_body(request)
        connections = body.raw("sso_connections") or []
        if not isinstance(connections, list) or not all(isinstance(c, dict) for c in connections):
            raise bad_request("sso_connections must be a list of {display_name, kind} objects.")
        org = b2b.create_organization(
            body.required_string("organization_name"),
            body.string("organization_slug"),
            email_allowed_domains=string_list(body, "email_allowed_domains"),
            email_jit_provisioning=body.string("email_jit_provisioning"),
            allowed_auth_methods=string_list(body, "allowed_auth_methods"),
            auth_methods=body.string("auth_methods"),
            mfa_policy=body.string("mfa_policy"),
            allowed_mfa_methods=string_list(body, "allowed_mfa_methods"),
            mfa_methods=body.string("mfa_methods"),
            sso_jit_provisioning=body.string("sso_jit_provisioning"),
        )
        for spec in connections:
            part = Body(spec)
            b2b.add_sso_connection(
                org.organization_id,
                part.string("display_name") or "",
                part.string("kind") or "saml",
            )
        return JSONResponse(_organization_json(b2b, org))

    async def list_organizations(request: Request) -> JSONResponse:
        return JSONResponse(
            {"organizations": [_organization_json(b2b, o) for o in b2b.organizations()]}
        )

    async def add_connection(request: Request) -> JSONResponse:
        body = await read_body(request)
        connection = b2b.add_sso_connection(
            request.path_params["organization"],
            body.string("display_name") or "",
            body.string("kind") or "saml",
        )
        return JSONResponse({**connection.to_json(), "kind": connection.kind})

    async def create_member(request: Request) -> JSONResponse:
        body = await read_body(request)
        password = body.string("password")
        if password is not None and not password:
            raise bad_request("password must not be empty.")
        member, totp = b2b.create_member(
            request.path_params["organization"],
            body.email("email_address"),
            name=body.string("name") or "",
            status=body.string("status") or "active",
            password=password,
            mfa_phone_number=body.string("mfa_phone_number"),
            mfa_enrolled=bool(body.boolean("mfa_enrolled")),
            totp=bool(body.boolean("totp")),
            is_breakglass=bool(body.boolean("is_breakglass")),
            default_mfa_method=body.string("default_mfa_method"),
        )
        return JSONResponse(_member_json(member, totp))

    async def delete_member(request: Request) -> JSONResponse:
        member = b2b.delete_member(
            request.path_params["organization"], request.path_params["member_id"]
        )
        return JSONResponse({"member_id": member.member_id})

    async def totp_code(request: Request) -> JSONResponse:
        code = b2b.current_totp_code(
            request.path_params["organization"], request.path_params["member_id"]
        )
        return JSONResponse({"code": code})

    orgs = f"{B2B_CONTROL_PREFIX}/organizations"
    return [
        Route(orgs, create_organization, methods=["POST"]),
        Route(orgs, list_organizations, methods=["GET"]),
        Route(f"{orgs}/{{organization}}/sso_connections", add_connection, methods=["POST"]),
        Route(f"{orgs}/{{organization}}/members", create_member, methods=["POST"]),
        Route(f"{orgs}/{{organization}}/members/{{member_id}}", delete_member, methods=["DELETE"]),
        Route(
            f"{orgs}/{{organization}}/members/{{member_id}}/totp_code", totp_code, methods=["GET"]
        ),
    ]
