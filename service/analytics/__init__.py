"""Card analytics for the CDS committee: acceptance and override reasons, per topic and week."""
