"""Streamed responses in the tenant's context.

A StreamingHttpResponse is consumed after the view has returned, when the request's tenant scope has ended: under
row-level security its queries would see no rows at all (a CSV with its header only). Every streamed export reads
its rows through `stream_in_tenant`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.utils import translation

from .context import tenant_scope


def stream_in_tenant(tenant_id: int, chunks: Iterable, *, language: str | None = None) -> Iterator:
    """Yield `chunks`, produced inside one transaction of tenant `tenant_id` (in `language`, default the current)."""
    language = language or translation.get_language()

    def generate() -> Iterator:
        with translation.override(language), tenant_scope(tenant_id):
            yield from chunks

    return generate()
