"""Experiments that measure whether PLOT helps: tooling around the library, run from a checkout with
``python -m experiments COMMAND`` (see :mod:`experiments.__main__`), never installed with ``plot_lightning``.

- the grid (``grid``): methods x seeds (x sweeps) per category, each cell in its own folder named after the
  hash of its resolved settings, with one marker file per finished stage, so an interrupted experiment resumes
  where it stopped and a changed cell is the only one rerun (:mod:`.experiment`);
- the arithmetic experiment (``arithmetic-data``, ``arithmetic-run``): a task with an exact reward, a control
  arm and per-item values (:mod:`.arithmetic_run`);
- ``diagnose``: next-token mass against the target token, before vs after training (:mod:`.diagnose`).
"""
