"""nbcode: the tested code behind the book *How Neural Networks Are Trained*.

Sub-packages are organised by topic, not by chapter:

* :mod:`nbcode.quadratic` — gradient descent on quadratics, closed forms;
* :mod:`nbcode.data` — the book's offline data sets;
* :mod:`nbcode.train` — one small training loop for torch models;
* :mod:`nbcode.sweep` — live parameter sweeps for Jupyter and the HTML book;
* :mod:`nbcode.exercises` — auto-checked exercises;
* :mod:`nbcode.plot` — the book's plot style.
"""

__version__ = "0.1.0"
