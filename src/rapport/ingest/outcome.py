"""What happened to each record of a batch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rapport.errors import FieldError


@dataclass
class Outcome:
    status: str  # created | updated | unchanged | rejected  (warnings say what else happened)
    id: int | None = None
    errors: list[FieldError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def rejected(cls, field_name: str, message: str) -> Outcome:
        return cls("rejected", errors=[FieldError(field_name, message)])

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "id": self.id}
        if self.errors:
            out["errors"] = [e.as_dict() for e in self.errors]
        if self.warnings:
            out["warnings"] = self.warnings
        return out
