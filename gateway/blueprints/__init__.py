"""HTTP endpoints, one blueprint per audience."""
