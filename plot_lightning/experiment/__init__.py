"""The PLOT experiment: a grid of methods x seeds (x sweeps) per category, trained, exported, measured.

``plot-lightning experiment --config configs/experiments/<name>.yaml`` (see :mod:`.command`). Each cell lives
in its own folder named after the hash of its resolved settings, with one marker file per finished stage, so
an interrupted experiment resumes where it stopped and a changed cell is the only one rerun.
"""
