"""Storage backends, chosen by URL: ``memory://``, ``sqlite:///path``, ``postgresql://…``."""
