#!/usr/bin/env python3
"""Builds a held-out BEIR folder from Debian's package index (bookworm main, read from
deb.debian.org, cached under $KB_NOVA_CACHE): every package of the sysadmin sections (admin, net,
web, httpd, utils; libraries, -dev, -dbg, -doc and language-module packages left out) becomes a
document, title "NAME: short description", text its long description — short abstracts with titles,
the shape on which KB Nova's BM25 once trailed bm25s. The queries and judgements are ours
(bench/datasets/debian-sysadmin/); the corpus is not shipped.

Usage: build_debian.py OUT_DIR"""
import json
import lzma
import os
import urllib.request
import pathlib
import re
import shutil
import sys

SECTIONS = {"admin", "net", "web", "httpd", "utils"}
SKIP = re.compile(r"^(lib|python3?-|ruby-|node-|golang-|php-|perl-|r-cran-)|-(dev|dbg|dbgsym|doc|data|common)$")
HERE = pathlib.Path(__file__).resolve().parent / "debian-sysadmin"
MIRROR = "http://deb.debian.org/debian/dists/bookworm/main/"


def fetch(path):
    """One index file, downloaded once into the cache and decompressed."""
    cache = pathlib.Path(os.environ.get("KB_NOVA_CACHE", pathlib.Path.home() / ".cache/kb-nova")) / "debian"
    cache.mkdir(parents=True, exist_ok=True)
    local = cache / path.replace("/", "_")
    if not local.exists():
        urllib.request.urlretrieve(MIRROR + path, local.with_suffix(".part"))
        local.with_suffix(".part").rename(local)
    return lzma.decompress(local.read_bytes()).decode()


def packages(text):
    for record in text.split("\n\n"):
        fields, key = {}, None
        for line in record.split("\n"):
            if line.startswith(" ") and key:
                fields[key] += "\n" + line
            elif ":" in line:
                key, value = line.split(":", 1)
                fields[key] = value.strip()
        if "Package" in fields:
            yield fields


def long_description(desc):
    lines = desc.split("\n")[1:]
    out = []
    for line in lines:
        line = line[1:] if line.startswith(" ") else line
        out.append("" if line.strip() == "." else line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = pathlib.Path(sys.argv[1])
    described = {p["Package"]: p["Description-en"] for p in packages(fetch("i18n/Translation-en.xz"))}
    docs = {}
    for p in packages(fetch("binary-amd64/Packages.xz")):
        name, section = p["Package"], p.get("Section", "").split("/")[-1]
        desc = described.get(name, "")
        if section not in SECTIONS or SKIP.search(name) or name in docs or not desc:
            continue
        short = desc.split("\n")[0].strip()
        docs[name] = {"_id": name, "title": f"{name}: {short}", "text": long_description(desc)}
    qrels = [l.split("\t") for l in (HERE / "qrels.tsv").read_text().splitlines()[1:] if l.strip()]
    missing = sorted({d for _, d, _ in qrels} - docs.keys())
    if missing:
        sys.exit(f"judged packages not in this machine's index (has the bookworm index changed?): {missing}")
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with open(out / "corpus.jsonl", "w") as f:
        for d in sorted(docs.values(), key=lambda d: d["_id"]):
            f.write(json.dumps(d) + "\n")
    shutil.copy(HERE / "queries.jsonl", out / "queries.jsonl")
    shutil.copy(HERE / "qrels.tsv", out / "qrels" / "test.tsv")
    print(f"{out}: {len(docs)} documents, {len({q for q, _, _ in qrels})} judged queries")


if __name__ == "__main__":
    main()
