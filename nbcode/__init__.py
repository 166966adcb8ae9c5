"""nbcode: the tested code behind the book *How Neural Networks Are Trained*.

Sub-packages are organised by topic, not by chapter:

* :mod:`nbcode.quadratic` — gradient descent on quadratics, closed forms, Newton's method;
* :mod:`nbcode.schedules` — learning-rate schedules as pure ``step -> lr`` functions;
* :mod:`nbcode.stochastic` — mini-batch SGD on least squares, gradient noise;
* :mod:`nbcode.optim` — functional optimizers checked against ``torch.optim``;
* :mod:`nbcode.init` — initializers after ``torch.nn.init``, variance propagation, Jacobian spectra,
  a one-mini-batch probe and LSUV;
* :mod:`nbcode.norm` — BatchNorm, LayerNorm, GroupNorm, InstanceNorm, weight and spectral norm,
  forward and backward, checked against ``torch.nn``;
* :mod:`nbcode.regularize` — penalties and proximal operators, dropout, early stopping, clipping,
  augmentation;
* :mod:`nbcode.surfaces`, :mod:`nbcode.hessian`, :mod:`nbcode.landscape` — test surfaces, Hessian
  tools for torch models, loss-landscape slices;
* :mod:`nbcode.data` — the book's offline data sets;
* :mod:`nbcode.train` — one small training loop for torch models;
* :mod:`nbcode.sweep` — live parameter sweeps for Jupyter and the HTML book;
* :mod:`nbcode.exercises` — auto-checked exercises;
* :mod:`nbcode.plot` — the book's plot style.
"""

__version__ = "0.1.0"
