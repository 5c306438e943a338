"""Where trials run: worker slots (``slot``: command mode in ``command``, pooled in ``pool``), what a trial is
handed (``handoff``), rung waits (``rungs``) and the code put into trial processes (``inject/``). May import
``core``, ``storage`` and ``search``."""
