"""The analytics refresh: read the store, compute every analysis, write one snapshot."""
