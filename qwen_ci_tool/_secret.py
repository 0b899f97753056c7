"""A tiny wrapper that keeps the API key out of reprs, str(), logs and tracebacks."""

from __future__ import annotations

from typing import NoReturn

__all__ = ["Secret"]


class Secret:
    """Holds a secret string; ``repr``/``str`` mask it. Use :meth:`get_secret_value` to read it."""

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        object.__setattr__(self, "_value", value)

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Secret is immutable")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> NoReturn:
        # Pickling would write the key in clear to wherever the pickle goes.
        raise TypeError("Secret values cannot be pickled")

    def redact(self, text: str) -> str:
        """Return *text* with every occurrence of the secret masked."""
        value = self._value
        if value and value in text:
            return text.replace(value, "**********")
        return text
