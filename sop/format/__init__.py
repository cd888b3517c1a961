"""The SOP file format: YAML nodes with marks, the schema, the loader, library discovery and the list cache."""
