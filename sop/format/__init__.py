"""The file formats: YAML nodes with marks, the schema kit and the SOP/inventory declarations, the
loader, tabletop scenario files, library discovery and the list cache."""
