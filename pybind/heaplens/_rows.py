"""The sequence protocol the table objects share: a ``rows`` list read by
``len()``, iteration and indexing, and ``row(type_name)`` to find one group.
Imports nothing of heaplens, so any module may base a class on it."""

from typing import Generic, Iterator, List, Optional, TypeVar

R = TypeVar("R")


class RowSequence(Generic[R]):
    """``len()``, iteration and indexing over ``self.rows``."""

    rows: List[R]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[R]:
        return iter(self.rows)

    def __getitem__(self, i):
        return self.rows[i]


class TypeRows(RowSequence[R]):
    """A :class:`RowSequence` whose rows have a ``type_name``."""

    def row(self, type_name: str) -> Optional[R]:
        """The row of ``type_name``, or None."""
        for r in self.rows:
            if r.type_name == type_name:  # type: ignore[attr-defined]
                return r
        return None
