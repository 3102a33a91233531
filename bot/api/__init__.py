"""The staff API (``/api/v1``): the back office for machines, under the same access rules."""
