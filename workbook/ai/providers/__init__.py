"""One module per provider. Import them through the factory, not directly: the factory
imports each lazily so that unused SDKs never load."""
