"""Staff access: scrypt hashes, throttling per session and for everyone, lockout windows, expiry."""

from __future__ import annotations

import pytest

from coach.audit import AuditStore
from coach.errors import CoachError
from coach.staffauth import LoginGuard, LoginPolicy, StaffSecret, check_password, hash_password, staff_secret

SECRET = StaffSecret(kind="hash", value=hash_password("the right password", salt="fixedsalt123"))


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_hash_format_and_check():
    value = hash_password("the right password")
    method, salt, key = value.split("$")
    assert method == "scrypt:32768:8:1" and len(salt) >= 16 and len(bytes.fromhex(key)) == 64
    assert value != hash_password("the right password")  # a fresh salt each time
    secret = StaffSecret(kind="hash", value=value)
    assert check_password("the right password", secret) and not check_password("the right passwore", secret)
    assert check_password("pw", StaffSecret(kind="plain", value="pw"))


def test_secret_sources_and_a_malformed_hash():
    assert staff_secret({}, {}) is None
    assert staff_secret({"COACH_STAFF_PASSWORD": "p"}, {}).kind == "plain"
    both = staff_secret({"COACH_STAFF_PASSWORD": "p", "COACH_STAFF_PASSWORD_HASH": SECRET.value}, {})
    assert both.kind == "hash"
    assert staff_secret({}, {"staff_password_hash": SECRET.value}).kind == "hash"
    with pytest.raises(CoachError, match="scrypt:N:r:p"):
        staff_secret({"COACH_STAFF_PASSWORD_HASH": "md5$abc"}, {})


def test_growing_delay_then_a_session_lockout(tmp_path):
    store, clock = AuditStore(tmp_path / "a.sqlite3"), Clock()
    guard = LoginGuard(store, LoginPolicy(), now=clock)
    waits = []
    for _ in range(8):
        gate = guard.gate("s1")
        if not gate.open:
            assert gate.reason == "delay"
            waits.append(round(gate.wait_s))
            assert "wait" in guard.attempt("s1", "nope", SECRET).message  # refused without checking
            clock.t += gate.wait_s
        assert not guard.attempt("s1", "nope", SECRET).ok
        clock.t += 0.5
    assert waits == [2, 4, 8, 16, 32]  # free tries first, then a doubling delay
    gate = guard.gate("s1")
    assert gate.reason == "session" and "locked" in gate.message
    assert not guard.attempt("s1", "the right password", SECRET).ok  # refused while locked
    assert guard.gate("another tab").open
    clock.t += 900
    assert guard.attempt("s1", "the right password", SECRET).ok
    assert guard.gate("s1").open  # a success clears the session's count


def test_twenty_wrong_passwords_lock_everyone_until_the_window_ends(tmp_path):
    store, clock = AuditStore(tmp_path / "a.sqlite3"), Clock()
    guard = LoginGuard(store, LoginPolicy(), now=clock)
    for k in range(20):  # an attacker opening a new session every two tries
        assert not guard.attempt(f"s{k // 2}", f"guess {k}", SECRET).ok
        clock.t += 1
    result = guard.attempt("staff", "the right password", SECRET, "ana")
    assert not result.ok and "locked for everyone" in result.message
    clock.t += 900 - 21  # one second before the first failure is 15 minutes old
    assert not guard.attempt("staff", "the right password", SECRET, "ana").ok
    clock.t += 1
    assert guard.attempt("staff", "the right password", SECRET, "ana").ok
    outcomes = [e.outcome for e in reversed(store.login_events())]
    assert outcomes == ["failed"] * 20 + ["locked", "locked", "ok"]  # every attempt is in the log


def test_session_expiry(tmp_path):
    clock = Clock()
    guard = LoginGuard(AuditStore(tmp_path / "a.sqlite3"), LoginPolicy(idle_timeout_s=60), now=clock)
    seen = clock()
    clock.t += 59
    assert not guard.expired(seen)
    clock.t += 2
    assert guard.expired(seen) and not guard.expired(None)
