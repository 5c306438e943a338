"""The ``python -m localsweep`` commands (``main``): the top of the engine, importing any folder below."""
