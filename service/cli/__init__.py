"""`footdrop-cds`, the one command line: serve, check, demo, docs, valuesets, report, migrate."""
