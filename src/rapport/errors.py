"""Domain exceptions, raised by services and mapped once to HTTP responses in ``rapport.app``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class RapportError(Exception):
    status_code = 400
    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(RapportError):
    status_code = 404
    code = "not_found"


class Conflict(RapportError):
    status_code = 409
    code = "conflict"


class PermissionDenied(RapportError):
    status_code = 403
    code = "forbidden"


@dataclass
class InvalidRecord(RapportError):
    """A record that cannot be stored; ``errors`` name each offending field."""

    errors: list[FieldError] = field(default_factory=list)
    status_code = 422
    code = "invalid"

    def __post_init__(self) -> None:
        super().__init__(self.summary())

    @classmethod
    def one(cls, field_name: str, message: str) -> InvalidRecord:
        return cls([FieldError(field_name, message)])

    def summary(self) -> str:
        return "; ".join(f"{e.field}: {e.message}" for e in self.errors)
