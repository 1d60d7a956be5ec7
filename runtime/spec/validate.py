"""`pyrunc validate`: every problem of a bundle's config.json, one line each: the JSON
Schema's findings (jsonschema, off the hot path) and the loader's own rules."""
from pyrunc import errors
from pyrunc.spec import load


def validate_doc(doc):
    from pyrunc.spec import explain

    lines = [explain.format_problem(p, m) for p, m in explain.explain(doc)]
    if not lines:
        try:
            load.check(doc, strict=True)
        except errors.ConfigError as e:
            lines.append(str(e))
    return lines


def validate_bundle(bundle):
    try:
        doc = load.parse(load.read_bundle_config(bundle))
    except errors.ConfigError as e:
        return [str(e)]
    if not isinstance(doc, dict):
        return ["config.json: expected object"]
    return validate_doc(doc)
