"""Passwords: Argon2id hashes that verify, re-hash when the cost changes, and a floor on length."""

from __future__ import annotations

import pytest

from rapport.associates import passwords
from rapport.errors import InvalidRecord


def test_a_hash_is_argon2id_salted_and_verifies_only_the_right_password():
    first = passwords.hash_password("camel coat in size M")
    second = passwords.hash_password("camel coat in size M")
    assert first.startswith("$argon2id$") and "camel" not in first
    assert first != second  # a fresh salt each time
    assert passwords.verify_password(first, "camel coat in size M")
    assert not passwords.verify_password(first, "camel coat in size L")


@pytest.mark.parametrize("stored", ["", "not a hash", "$argon2id$v=19$m=65536,t=3,p=4$broken"])
def test_a_malformed_stored_hash_is_a_mismatch_not_a_crash(stored):
    assert passwords.verify_password(stored, "anything at all") is False


def test_a_hash_made_with_other_parameters_needs_rehashing_and_still_verifies():
    with passwords.hashing_cost(time_cost=1, memory_cost=1024):
        old = passwords.hash_password("silk scarf forever")
    assert passwords.verify_password(old, "silk scarf forever")
    assert passwords.needs_rehash(old)
    assert not passwords.needs_rehash(passwords.hash_password("silk scarf forever"))


def test_the_decoy_verification_for_unknown_emails_runs_a_real_hash_check():
    passwords.burn_verification_time("whatever was typed")  # must not raise, whatever the input
    passwords.burn_verification_time("")


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1234", "at least 10 characters"),
        ("          ", "cannot be only spaces"),
        ("x" * 1025, "at most 1024 characters"),
    ],
)
def test_weak_or_absurd_passwords_are_refused_with_a_clear_message(password, message):
    with pytest.raises(InvalidRecord) as refused:
        passwords.check_password_strength(password)
    assert refused.value.errors[0].field == "password"
    assert message in refused.value.errors[0].message


def test_ten_characters_are_enough():
    passwords.check_password_strength("ten chars!")
