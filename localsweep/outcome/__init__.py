"""How a trial ended: the one pure rule (``decide``) and the one path that writes it (``record``). May import
``core``, ``storage``, ``search`` and ``workers``."""
