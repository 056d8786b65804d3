"""Staff access: the password (an scrypt hash recommended), login throttling and session expiry.

The password is configured in one of two ways, the first found wins:

- ``COACH_STAFF_PASSWORD_HASH`` (or ``staff_password_hash`` in Streamlit
  secrets): ``scrypt:N:r:p$SALT$HEX``, the scrypt key (64 bytes, hex) of the
  UTF-8 password with the salt's UTF-8 bytes. ``python -m coach hash-password``
  prints one; the format is the one werkzeug's
  ``generate_password_hash(method="scrypt")`` writes.
- ``COACH_STAFF_PASSWORD`` (or ``staff_password``): the password in clear.

Every attempt is recorded in the audit store, which is also where throttling
reads its state, so it holds across browser sessions and restarts: after a
few wrong passwords a session waits a growing delay between attempts; at
``session_limit`` failures within ``window_s`` it is locked, and at
``global_limit`` failures from all sessions the login is closed for everyone
until the oldest of them is ``window_s`` old. Attempts refused while waiting
or locked are recorded but do not extend the lock, so an attacker cannot keep
staff out for ever, only slow them down.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from coach.audit import AuditStore
from coach.errors import CoachError

MIN_PASSWORD_CHARS = 12
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
HASH_HINT = "Make one with: python -m coach hash-password"


class StaffSecret(BaseModel):
    kind: Literal["hash", "plain"]
    value: str


class LoginPolicy(BaseModel):
    window_s: float = 900.0
    """Failures older than this are forgotten; a lockout lasts until the oldest counted failure is this old."""
    free_failures: int = 2
    """Wrong passwords a session may make before it has to wait."""
    first_delay_s: float = 2.0
    max_delay_s: float = 60.0
    session_limit: int = 8
    global_limit: int = 20
    idle_timeout_s: float = 1800.0
    """A staff session ends after this long without a click."""

    @classmethod
    def from_env(cls) -> LoginPolicy:
        minutes = os.environ.get("COACH_STAFF_IDLE_MINUTES")
        if minutes:
            try:
                return cls(idle_timeout_s=float(minutes) * 60)
            except ValueError as exc:
                raise CoachError(
                    f"COACH_STAFF_IDLE_MINUTES={minutes!r} is not a number.", "Set it to minutes, e.g. 30."
                ) from exc
        return cls()


class Gate(BaseModel):
    """May this session try a password now?"""

    open: bool
    reason: Literal["", "delay", "session", "global"] = ""
    wait_s: float = 0.0
    message: str = ""


class LoginResult(BaseModel):
    ok: bool
    message: str = ""


def hash_password(password: str, salt: str | None = None) -> str:
    """``scrypt:N:r:p$SALT$HEX`` for ``password`` (a fresh random salt unless given)."""
    salt = salt or secrets.token_urlsafe(12)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt:{SCRYPT_N}:{SCRYPT_R}:{SCRYPT_P}${salt}${key.hex()}"


def _scrypt(password: str, salt: str, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt.encode("utf-8"), n=n, r=r, p=p,
                          maxmem=132 * n * r * p, dklen=64)  # fmt: skip


def parse_hash(value: str) -> tuple[int, int, int, str, bytes]:
    """(N, r, p, salt, key) of a stored hash; a clear error when it is not one."""
    try:
        method, salt, hexkey = value.strip().split("$")
        name, n, r, p = method.split(":")
        if name != "scrypt" or not salt:
            raise ValueError(name)
        return int(n), int(r), int(p), salt, bytes.fromhex(hexkey)
    except ValueError as exc:
        raise CoachError(
            "The staff password hash is not in the form scrypt:N:r:p$SALT$HEX.", HASH_HINT + " and paste its output."
        ) from exc


def check_password(typed: str, secret: StaffSecret) -> bool:
    if secret.kind == "plain":
        return hmac.compare_digest(typed.encode("utf-8"), secret.value.encode("utf-8"))
    n, r, p, salt, key = parse_hash(secret.value)
    return hmac.compare_digest(_scrypt(typed, salt, n, r, p), key)


def staff_secret(env: Mapping[str, str], secrets_: Mapping[str, object]) -> StaffSecret | None:
    """The configured staff password: a hash first, then a clear password; None when there is none."""
    for kind, env_key, secret_key in (
        ("hash", "COACH_STAFF_PASSWORD_HASH", "staff_password_hash"),
        ("plain", "COACH_STAFF_PASSWORD", "staff_password"),
    ):
        value = env.get(env_key) or secrets_.get(secret_key)
        if value:
            secret = StaffSecret(kind=kind, value=str(value))
            if kind == "hash":
                parse_hash(secret.value)  # a malformed hash is reported at once, not at the first login
            return secret
    return None


def clock() -> float:
    """Seconds since the epoch (a function of its own so tests can move time)."""
    return time.time()


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


class LoginGuard:
    """Throttled password checks, with every attempt recorded in the audit store."""

    def __init__(
        self, store: AuditStore, policy: LoginPolicy | None = None, now: Callable[[], float] | None = None
    ) -> None:
        self.store = store
        self.policy = policy or LoginPolicy()
        self._now = now

    def clock(self) -> float:
        return self._now() if self._now is not None else clock()

    def gate(self, session_key: str) -> Gate:
        pol, now = self.policy, self.clock()
        since = now - pol.window_s
        everyone = self.store.login_failures(since)
        if len(everyone) >= pol.global_limit:
            until = _epoch(everyone[-pol.global_limit]) + pol.window_s
            if until > now:
                return Gate(open=False, reason="global", wait_s=until - now, message=(
                    f"The staff login is locked for everyone for {_minutes(until - now)} after too many wrong "
                    "passwords; every attempt is recorded. Try again then."))  # fmt: skip
        mine = self.store.login_failures(since, session_key)
        if len(mine) >= pol.session_limit:
            until = _epoch(mine[-pol.session_limit]) + pol.window_s
            if until > now:
                return Gate(open=False, reason="session", wait_s=until - now, message=(
                    f"Too many wrong passwords from this browser: the login is locked for {_minutes(until - now)}."))  # fmt: skip
        extra = len(mine) - pol.free_failures
        if extra > 0:
            delay = min(pol.first_delay_s * 2 ** (extra - 1), pol.max_delay_s)
            until = _epoch(mine[-1]) + delay
            if until > now:
                wait = math.ceil(until - now)
                return Gate(open=False, reason="delay", wait_s=until - now, message=(
                    f"Too many wrong passwords: wait {wait} second{'s' if wait != 1 else ''} before trying again."))  # fmt: skip
        return Gate(open=True)

    def attempt(
        self, session_key: str, typed: str, secret: StaffSecret, staff_name: str = "", client: str = ""
    ) -> LoginResult:
        """Check a password if this session may try now; record the attempt either way."""
        gate = self.gate(session_key)
        if not gate.open:
            outcome = "throttled" if gate.reason == "delay" else "locked"
            self.store.record_login(outcome, session_key, staff_name, client, at=self.clock())
            return LoginResult(ok=False, message=gate.message)
        ok = check_password(typed, secret)
        self.store.record_login("ok" if ok else "failed", session_key, staff_name, client, at=self.clock())
        if ok:
            return LoginResult(ok=True)
        after = self.gate(session_key)
        return LoginResult(ok=False, message="Wrong password." + (f" {after.message}" if not after.open else ""))

    def expired(self, last_seen: float | None) -> bool:
        """Has a staff session been idle longer than the policy allows?"""
        return last_seen is not None and self.clock() - last_seen > self.policy.idle_timeout_s


def _minutes(seconds: float) -> str:
    m = max(1, math.ceil(seconds / 60))
    return f"{m} minute{'s' if m != 1 else ''}"
