"""footdrop-cds: a CDS Hooks 2.0 service for foot-drop decision support."""
