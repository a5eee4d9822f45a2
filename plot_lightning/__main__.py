"""``python -m plot_lightning ...`` is the ``plot-lightning`` command (see ``plot_lightning.cli.main``)."""

from plot_lightning.cli.main import main

if __name__ == "__main__":
    main()
