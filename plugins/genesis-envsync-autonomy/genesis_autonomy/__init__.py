"""Genesis Autonomy: heal environment drift from a reference instance, safely.

``genesis heal`` prints a plan; ``genesis heal --apply`` writes it one key at a
time and verifies each write.  The engine can heal automatically on
``envsync.drift`` when configured and allowed by the Guardian.  See
``docs/engines/autonomy.md``.
"""

from __future__ import annotations

__version__ = "0.1.0"
