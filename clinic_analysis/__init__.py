"""clinic-audit: client-ready audits of a private clinic's patient base."""

__version__ = "0.1.0"
