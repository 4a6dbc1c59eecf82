"""The roles table in the docs is the one in code."""

from pathlib import Path

from dashboard.organisations.roles import PERMISSIONS, Permission, Role

DOCS = Path(__file__).parents[2] / "docs" / "dashboard.md"


def test_the_documented_roles_table_is_the_code_s():
    lines = DOCS.read_text().splitlines()
    start = lines.index("| permission | " + " | ".join(role.value for role in Role) + " |")
    documented = {}
    for line in lines[start + 2 :]:
        if not line.startswith("| `"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        permission = Permission(cells[0].strip("`"))
        documented[permission] = {role for role, cell in zip(Role, cells[1:], strict=True) if cell}
    assert set(documented) == set(Permission)
    for permission, roles in documented.items():
        assert roles == {role for role in Role if permission in PERMISSIONS[role]}, permission
