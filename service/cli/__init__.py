"""`footdrop-cds`, the command line (typer)."""
