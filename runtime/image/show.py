"""`image ls` and `image history`: tables as runc's `list` prints them (Go tabwriter,
minwidth 12, padding 3), or JSON."""
from pyrunc import errors, jsonio
from pyrunc.image import layout


def human(n):
    """Sizes as docker prints them: 1.08MB (powers of 1000)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return ("%d%s" % (n, unit)) if unit == "B" else ("%.3g%s" % (n, unit))
        n /= 1000.0
    return str(n)


def table(rows):
    if not rows:
        return ""
    ncol = len(rows[0])
    widths = [max(12, max(len(r[i]) for r in rows) + 3) for i in range(ncol - 1)]
    return "".join("".join(r[i].ljust(widths[i]) for i in range(ncol - 1)) + r[-1] + "\n" for r in rows)


def short(digest):
    return digest.partition(":")[2][:12]


def ls(path, fmt="table"):
    lay = layout.Layout(path)
    out = []
    for tag, desc in lay.tags():
        img = lay.image(tag) if tag is not None else None
        if img is None:
            continue
        size = img.config_desc.get("size", 0) + sum(d.get("size", 0) for d in img.layers)
        out.append({"tag": tag, "digest": desc["digest"], "mediaType": desc.get("mediaType", ""),
                    "created": img.config.get("created", ""), "layers": len(img.layers), "size": size})
    if fmt == "json":
        return jsonio.dumps(out) + "\n"
    if fmt != "table":
        raise errors.PyruncError("invalid format option")
    rows = [("TAG", "MANIFEST", "CREATED", "LAYERS", "SIZE")]
    for r in out:
        rows.append((r["tag"], short(r["digest"]), r["created"][:19].replace("T", " "), str(r["layers"]),
                     human(r["size"])))
    return table(rows)


def history(ref, fmt="table"):
    lpath, tag = layout.parse_ref(ref)
    img = layout.Layout(lpath).image(tag)
    entries = [h for h in img.config.get("history") or [] if isinstance(h, dict)]
    layers = list(img.layers)
    out = []
    i = 0
    for h in entries:
        row = {"created": h.get("created", ""), "createdBy": h.get("created_by", ""),
               "comment": h.get("comment", ""), "author": h.get("author", ""), "layer": "", "size": 0}
        if not h.get("empty_layer"):
            if i < len(layers):
                row["layer"] = layers[i]["digest"]
                row["size"] = layers[i].get("size", 0)
            i += 1
        out.append(row)
    for d in layers[i:]:
        out.append({"created": "", "createdBy": "", "comment": "", "author": "", "layer": d["digest"],
                    "size": d.get("size", 0)})
    out.reverse()
    if fmt == "json":
        return jsonio.dumps(out) + "\n"
    if fmt != "table":
        raise errors.PyruncError("invalid format option")
    rows = [("LAYER", "CREATED", "CREATED BY", "SIZE", "COMMENT")]
    for r in out:
        rows.append((short(r["layer"]) if r["layer"] else "-", r["created"][:19].replace("T", " "),
                     r["createdBy"][:60], human(r["size"]), r["comment"]))
    return table(rows)
