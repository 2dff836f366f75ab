"""One module per provider. `providers.registry` maps names to these classes."""
