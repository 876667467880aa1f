"""Provider secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) under a key from DSPY_ASH_SECRET_KEY.

Make a key with `python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from dspy_ash.settings import env
from dspy_ash.store._errors import SecretKeyMissingError, StoreError

KEY_ENV = "DSPY_ASH_SECRET_KEY"


def _fernet(key: str | None) -> Fernet:
    chosen = key or env(KEY_ENV)
    if not chosen:
        raise SecretKeyMissingError(
            f"set {KEY_ENV} to a Fernet key to store provider secrets, or reference an environment variable instead"
        )
    try:
        return Fernet(chosen.encode())
    except ValueError as exc:
        raise SecretKeyMissingError(f"{KEY_ENV} is not a valid Fernet key") from exc


def encrypt(plaintext: str, *, key: str | None = None) -> str:
    return _fernet(key).encrypt(plaintext.encode()).decode()


def decrypt(token: str, *, key: str | None = None) -> str:
    try:
        return _fernet(key).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise StoreError(f"a stored secret cannot be decrypted with this {KEY_ENV}") from exc
