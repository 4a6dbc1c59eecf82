"""What each role in an organisation may do: one table, read by every page's guard and by the
docs (docs/organisations.md prints it). A person always holds OWNER on their own account."""

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    DEVELOPER = "developer"
    VIEWER = "viewer"
    BILLING = "billing"


class Permission(StrEnum):
    READ_USAGE = "usage:read"
    READ_LOGS = "logs:read"
    READ_KEYS = "keys:read"
    WRITE_KEYS = "keys:write"  # create, roll, edit, expire
    USE_PLAYGROUND = "playground:use"
    READ_MEMBERS = "members:read"
    WRITE_MEMBERS = "members:write"  # invite, change roles, remove
    WRITE_ALERTS = "alerts:write"
    WRITE_WEBHOOKS = "webhooks:write"
    WRITE_SETTINGS = "settings:write"  # name, billing contact, two-factor rule
    READ_BILLING = "billing:read"
    WRITE_BILLING = "billing:write"  # the plan (the billing issue)
    DELETE_ORGANISATION = "organisation:delete"
    TRANSFER_OWNERSHIP = "ownership:transfer"


_VIEWER = frozenset(
    {Permission.READ_USAGE, Permission.READ_LOGS, Permission.READ_KEYS, Permission.READ_MEMBERS}
)
_DEVELOPER = _VIEWER | {Permission.WRITE_KEYS, Permission.USE_PLAYGROUND}
_ADMIN = _DEVELOPER | {
    Permission.WRITE_MEMBERS,
    Permission.WRITE_ALERTS,
    Permission.WRITE_WEBHOOKS,
    Permission.WRITE_SETTINGS,
}
_OWNER = _ADMIN | {
    Permission.READ_BILLING,
    Permission.WRITE_BILLING,
    Permission.DELETE_ORGANISATION,
    Permission.TRANSFER_OWNERSHIP,
}
_BILLING = frozenset(
    {
        Permission.READ_USAGE,
        Permission.READ_MEMBERS,
        Permission.READ_BILLING,
        Permission.WRITE_BILLING,
    }
)

PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: _OWNER,
    Role.ADMIN: _ADMIN,
    Role.DEVELOPER: _DEVELOPER,
    Role.VIEWER: _VIEWER,
    Role.BILLING: _BILLING,
}

# How each role is described where it is chosen (the invite form, the members page, the docs).
DESCRIPTIONS: dict[Role, str] = {
    Role.OWNER: "Everything, including deleting the organisation and transferring ownership.",
    Role.ADMIN: "Manages members, alerts, webhooks and settings, and everything a developer does.",
    Role.DEVELOPER: "Creates, rolls and expires keys and uses the playground; reads everything.",
    Role.VIEWER: "Reads usage, logs, keys and members; changes nothing.",
    Role.BILLING: "Reads usage and members and manages the plan and billing.",
}


def allows(role: Role | str | None, permission: Permission) -> bool:
    """Whether `role` may do `permission` (an unknown or missing role may do nothing)."""
    try:
        return permission in PERMISSIONS[Role(role)]
    except ValueError:
        return False


def parse_role(value: object) -> Role | None:
    """`value` as a role, or None when it names none (a form or an API body)."""
    try:
        return Role(str(value))
    except ValueError:
        return None
