"""Services: the only code that changes money or job state (docs/style.md practice 1)."""
