"""The book's data sets: offline, seeded, small enough to train on two CPU cores.

* :func:`load_digits` — scikit-learn's bundled 8×8 digits (1,797 images, 10 classes) with a
  fixed, stratified train/validation/test split, standardized with the training statistics.
* :func:`toy2d` — 2-D classification sets for playground-style demos: moons, circles, spiral,
  xor, blobs, with a noise level.
* :func:`conditioned_regression` — linear least squares whose Hessian has a chosen condition
  number (and eigenvalues).
"""

from nbcode.data.digits import Split, load_digits
from nbcode.data.regression import Regression, conditioned_regression
from nbcode.data.toy import TOY_SETS, toy2d

__all__ = ["load_digits", "Split", "toy2d", "TOY_SETS", "conditioned_regression", "Regression"]
