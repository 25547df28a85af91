"""genesis-envsync-nats: the Genesis bus on NATS JetStream, and ``genesis worker``.

Select it with ``[bus] transport = "nats"``; see ``docs/nats.md``.  Importing
this package imports nothing heavy (``nats`` loads when a connection opens).
"""

from __future__ import annotations

__version__ = "0.1.0"
