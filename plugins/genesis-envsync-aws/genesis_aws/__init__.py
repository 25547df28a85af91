"""Genesis platform adapters for AWS Systems Manager Parameter Store and AWS Secrets Manager."""

from __future__ import annotations

__version__ = "0.1.0"
