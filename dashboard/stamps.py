"""The account's security stamps (`account_security`): which emailed links still work, and which
TOTP time step was used last. Both are changed in one statement, so parallel requests agree."""

import sqlalchemy as sa

from dashboard.dialects import upsert
from dashboard.extensions import db
from dashboard.models import AccountSecurity, User


def link_generation(user: User) -> int:
    """The generation that links emailed now carry (0 until the first cancellation)."""
    generation = db.session.scalar(
        sa.select(AccountSecurity.link_generation).where(AccountSecurity.user_id == user.id)
    )
    return generation or 0


def cancel_emailed_links(user: User) -> None:
    """Every link emailed to the account so far stops working (password changed or reset,
    every other session logged out): a pending email change cannot outlive those steps."""
    statement = upsert(AccountSecurity).values(user_id=user.id, link_generation=1)
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=[AccountSecurity.user_id],
            set_={"link_generation": AccountSecurity.link_generation + 1},
        )
    )
    db.session.commit()


def claim_totp_step(user: User, step: int) -> bool:
    """True when no code of `step` or a later step was accepted before (it is now the last)."""
    db.session.execute(upsert(AccountSecurity).values(user_id=user.id).on_conflict_do_nothing())
    claimed = db.session.execute(
        sa.update(AccountSecurity)
        .where(
            AccountSecurity.user_id == user.id,
            sa.or_(AccountSecurity.totp_last_step.is_(None), AccountSecurity.totp_last_step < step),
        )
        .values(totp_last_step=step)
    )
    db.session.commit()
    return claimed.rowcount == 1
