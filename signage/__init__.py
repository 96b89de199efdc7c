"""Digital-signage content server with a bundled meeting-room booking system."""

__version__ = "0.1.0"
