"""Genesis adapter for GitHub Actions secrets and variables.

Importing this package is cheap: the adapter (httpx) and the sealed-box code
(PyNaCl) are imported only when an instance is built or a secret is written.
"""

from __future__ import annotations

__version__ = "0.1.0"
