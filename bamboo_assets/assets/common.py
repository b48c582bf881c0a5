"""What every asset shares: its group and how tables look in metadata."""

from collections.abc import Sequence

import dagster as dg

GROUP = "bamboo"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> dg.MetadataValue:
    """A small table for the asset page."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [
        "| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |" for row in rows
    ]
    return dg.MetadataValue.md("\n".join(lines))
