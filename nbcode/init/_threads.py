"""Run small dense linear algebra on one BLAS thread.

For the 100 × 100 matrices of this package, a multi-threaded BLAS spends more time waking its
threads than computing (a QR factorization can be 10–20 times slower on a busy machine), so the
loops over many small matrices run single-threaded.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar, cast

from threadpoolctl import threadpool_limits

F = TypeVar("F", bound=Callable[..., Any])


def single_blas_thread(fn: F) -> F:
    """Decorator: call ``fn`` with BLAS limited to one thread (restored afterwards)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with threadpool_limits(limits=1, user_api="blas"):
            return fn(*args, **kwargs)

    return cast(F, wrapper)
