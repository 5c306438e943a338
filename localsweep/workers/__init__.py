"""Where trials run: worker slots (``slot``: command mode in ``command``, pooled in ``pool``), what a trial is
handed (``handoff``), rung waits (``rungs``), the code put into trial processes (``inject/``), and one trial run
alone in a fresh slot (``alone``, for ``rerun``). May import ``core``, ``storage`` and ``search``."""
