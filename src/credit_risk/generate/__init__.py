"""Synthetic card-portfolio extracts, so the pipeline can run without real customer data."""
