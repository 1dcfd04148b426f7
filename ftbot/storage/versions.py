"""Model versions: naming, promotion (atomic, one active at a time) and rollback."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ftbot.storage.models import ModelVersion, utcnow


class RegistryError(Exception):
    """A version that doesn't exist, or a rollback with nothing to roll back to."""


def active_version(session: Session) -> ModelVersion | None:
    return session.scalar(select(ModelVersion).where(ModelVersion.is_active.is_(True)))


def promote(session: Session, version: ModelVersion) -> None:
    """Make `version` the only active one. Both changes land in the caller's one transaction."""
    session.execute(update(ModelVersion).where(ModelVersion.id != version.id).values(is_active=False))
    version.is_active = True
    version.promoted_at = utcnow()


def should_promote(candidate_val_loss: float | None, active_val_loss: float | None, margin: float) -> bool:
    """The first version is promoted; later ones must beat the active one on the same validation set."""
    if active_val_loss is None:
        return True
    if candidate_val_loss is None:
        return False
    return candidate_val_loss < active_val_loss - margin


def rollback(session: Session, name: str | None = None) -> ModelVersion:
    """Activate `name`, or else the version that was active before the current one."""
    if name is not None:
        target = session.scalar(select(ModelVersion).where(ModelVersion.name == name))
        if target is None:
            raise RegistryError(f"no model version named {name}")
        if target.trained_on_erased_at is not None:
            raise RegistryError(f"{name} was trained on erased data: it can never answer again")
    else:
        current = active_version(session)
        target = session.scalar(
            select(ModelVersion)
            .where(ModelVersion.promoted_at.is_not(None), ModelVersion.is_active.is_(False))
            .where(ModelVersion.trained_on_erased_at.is_(None))
            .where(ModelVersion.promoted_at <= (current.promoted_at if current else utcnow()))
            .order_by(ModelVersion.promoted_at.desc())
            .limit(1)
        )
        if target is None:
            raise RegistryError("no earlier promoted version to roll back to")
    promote(session, target)
    return target


def list_versions(session: Session) -> list[ModelVersion]:
    return list(session.scalars(select(ModelVersion).order_by(ModelVersion.id)))
