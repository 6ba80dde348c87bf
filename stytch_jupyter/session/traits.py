"""Trait types of the session core beyond what traitlets ships."""

from __future__ import annotations

from typing import Any

from traitlets import Instance


class LazyInstance(Instance[Any]):
    """An ``Instance`` trait named by a dotted class name that is imported when a value is first
    set, not when the object is made (traitlets resolves names at construction): a consumer
    kernel never imports the B2B models, and ``%load_ext`` stays light."""

    def instance_init(self, obj: Any) -> None:
        pass  # resolved in validate, on the first value that is not None

    def validate(self, obj: Any, value: Any) -> Any:
        if value is not None:
            self._resolve_classes()
        return super().validate(obj, value)
