"""nbcode: the tested code behind the book *How Neural Networks Are Trained*.

Two layers, and a rule between them.

**Topic packages** hold the algorithms, one package per mathematical topic (not per chapter),
each tested against an independent reference (torch, scipy, scikit-learn, closed forms):

* :mod:`nbcode.optim` — functional optimizers checked against ``torch.optim`` (any of them can
  train a torch model: :class:`nbcode.train.NumpyOptimizer`), and the one path runner
  (:func:`~nbcode.optim.run`, :func:`~nbcode.optim.gd_path`, :func:`~nbcode.optim.newton_path`)
  with the book's one divergence rule;
* :mod:`nbcode.schedules` — learning-rate schedules as pure ``step -> lr`` functions;
* :mod:`nbcode.quadratic` — gradient descent on quadratics in closed form, Newton's local step;
* :mod:`nbcode.stochastic` — mini-batch SGD on least squares, gradient noise;
* :mod:`nbcode.surfaces` — the one registry of test surfaces (:data:`~nbcode.surfaces.SURFACES`)
  with exact derivatives, critical points and escape from saddles;
* :mod:`nbcode.hessian` — Hessians of torch models, their spectra, the sharpness;
* :mod:`nbcode.landscape` — loss-landscape slices;
* :mod:`nbcode.init` — initializers after ``torch.nn.init``, variance propagation, Jacobian
  spectra, a one-mini-batch probe and LSUV;
* :mod:`nbcode.norm` — BatchNorm, LayerNorm, GroupNorm, InstanceNorm, weight and spectral norm,
  forward and backward, checked against ``torch.nn``; input standardization;
* :mod:`nbcode.regularize` — penalties and proximal operators, dropout, early stopping,
  clipping, augmentation;
* :mod:`nbcode.train` — the one training loop (:func:`~nbcode.train.fit`) and the one network
  builder (:func:`~nbcode.train.mlp`) for torch models;
* :mod:`nbcode.data` — the book's offline data sets;
* :mod:`nbcode.sweep`, :mod:`nbcode.plot`, :mod:`nbcode.exercises` — live parameter sweeps, the
  book's plot style, auto-checked exercises.

**Chapter experiments** (:mod:`nbcode.experiments`, one module per topic) put the algorithms
together for one chapter: which network, which data, which learning rates, what to measure.
:mod:`nbcode.checkup` applies the chapters' measurements to a reader's own model.

The rule: experiments import topics, never the reverse, and no topic re-exports an experiment.
Topics may use one another (``quadratic`` runs its paths with ``optim``); ``nbcode.optim`` and
``nbcode.schedules`` import NumPy only, never torch. Arguments are checked at the door by
:mod:`nbcode._validate`, with one message format. Book tooling (the table of contents, the
benchmark) lives in ``scripts/``, outside the library.
"""

__version__ = "0.1.0"
