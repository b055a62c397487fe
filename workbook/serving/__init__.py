"""Serving the bundled model over HTTP on 127.0.0.1, as a self-hosted engine would."""
