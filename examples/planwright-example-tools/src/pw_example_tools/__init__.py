"""An example Planwright plugin: see tools.py and README.md."""
