"""Agent accounts: scrypt hashes, sessions by hashed token, disabled accounts."""

from __future__ import annotations

import pytest

from handoff.accounts import AccountError, Accounts, check_password, hash_password, token_hash
from tests.handoff.conftest import make_agent


def test_passwords_are_salted_scrypt_hashes() -> None:
    first, second = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert first != second and first.startswith("scrypt$16384$8$1$")
    assert check_password("correct horse battery", first)
    assert not check_password("correct horse batterY", first)
    assert not check_password("anything", "plain-text-is-not-a-hash")


async def test_login_sessions_and_disabling(accounts: Accounts) -> None:
    anna = await make_agent(accounts, "anna")
    assert await accounts.authenticate("ANNA ", "a long enough password") is not None
    assert await accounts.authenticate("anna", "wrong password!!") is None
    assert await accounts.authenticate("nobody", "a long enough password") is None
    token, csrf = await accounts.start_session(anna)
    found = await accounts.session_of(token)
    assert found is not None and found[0].id == anna.id and found[1].csrf_token == csrf
    # Only the token's hash is stored.
    assert found[1].token_hash == token_hash(token) != token
    assert await accounts.session_of(token + "x") is None
    await accounts.set_active("anna", False)
    assert await accounts.session_of(token) is None
    assert await accounts.authenticate("anna", "a long enough password") is None


@pytest.mark.parametrize(("username", "password", "problem"), [
    ("Bad Name", "a long enough password", "username"),
    ("anna2", "short", "at least 10"),
])
async def test_bad_accounts_are_refused(accounts: Accounts, username: str, password: str,
                                        problem: str) -> None:
    with pytest.raises(AccountError, match=problem):
        await accounts.add(username, "Anna", password, 3)


async def test_usernames_are_unique(accounts: Accounts) -> None:
    await make_agent(accounts, "anna")
    with pytest.raises(AccountError, match="exists"):
        await make_agent(accounts, "anna")
