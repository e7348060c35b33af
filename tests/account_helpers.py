"""Accounts for tests: every account but a database's first needs an administrator, so tests
add theirs as one test administrator, created first when the database has no account yet."""

from __future__ import annotations

from katmonitor.accounts import AccountStore, Role, User

TEST_ADMIN = "test.admin"
TEST_ADMIN_PASSWORD = "admin-pass-1"
AS_ADMIN = {"admin": TEST_ADMIN, "admin_password": TEST_ADMIN_PASSWORD}
"""Keyword arguments for an account change made by the test administrator."""


def add_account(
    accounts: AccountStore, name: str, role: Role | str, password: str, full_name: str = ""
) -> User:
    """Add ``name`` as the test administrator (made first if the database has no account)."""
    if not accounts.has_users():
        accounts.add_user(TEST_ADMIN, Role.ADMINISTRATOR, TEST_ADMIN_PASSWORD, "Test Admin")
    return accounts.add_user(name, role, password, full_name, **AS_ADMIN)

