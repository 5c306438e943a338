"""The live dashboard (``python -m localsweep dashboard``): a web page that follows sweeps as they run.

Read-only by construction: it reads sweeps through :class:`~localsweep.storage.view.SweepView` (and what the view
reads: ``storage.cache``, ``storage.lease``), the plain values of ``core`` and ``contract``, and the search space of
``search.custom.space`` for the parameter importance; never the store, the lease or the engine's loop
(``tests/test_architecture.py``). Its web libraries (Starlette, uvicorn, sse-starlette, Plotly.js from the plotly
wheel) are imported by this command only. Above ``run`` and ``bridge``, below ``cli``.
"""
