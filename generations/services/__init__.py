"""Services: the only code that changes money or job state (STYLE.md practice 1)."""
