"""baseline: the code as it was at commit 507b226e4 (2025-10-17). Replaces nothing."""

REPLACES: dict = {}
