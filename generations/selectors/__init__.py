"""Selectors: read-only queries shared by views, commands and checks (HackSoft style)."""
