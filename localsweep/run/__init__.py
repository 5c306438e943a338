"""A running sweep: the agent loop (``agent``), the controller role (``controller``), a dead controller's trial
processes (``orphans``) and the live progress line (``progress``). May import every folder below it: ``core``,
``storage``, ``search``, ``workers``, ``outcome``."""
