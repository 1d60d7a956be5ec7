"""config.json: the typed loader (load.py, shape.py), the JSON Schema (schema.json,
explain.py, used by `pyrunc validate` and tests), and runc's default spec (default.py)."""
