"""Looking at a network's loss landscape: 1-D interpolations and 2-D filter-normalized slices.

See :func:`~nbcode.landscape.slices.slice_2d` and :func:`~nbcode.landscape.slices.filter_normalize`
(:cite:`li2018`). The model is never modified: every evaluation goes through
``torch.func.functional_call``, vectorized over grid points with ``torch.func.vmap`` in chunks
sized to the cache, or looped where a point's activations alone fill it
(:func:`~nbcode.landscape.slices.auto_chunk`).

:mod:`~nbcode.landscape.symmetry` has the permutation and rescaling symmetries of an MLP's
parameters, which make its minima non-isolated.
"""

from nbcode.landscape.slices import (
    auto_chunk,
    centered_grid,
    filter_normalize,
    interpolate,
    loss_on_grid,
    losses_at,
    random_direction,
    slice_1d,
    slice_2d,
)
from nbcode.landscape.symmetry import hidden_layers, permute_hidden, rescale_hidden, rescaling_directions

__all__ = [
    "random_direction", "filter_normalize", "centered_grid", "loss_on_grid", "losses_at", "auto_chunk", "slice_1d", "slice_2d",
    "interpolate", "hidden_layers", "permute_hidden", "rescale_hidden", "rescaling_directions",
]
