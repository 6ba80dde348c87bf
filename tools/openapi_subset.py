"""Extract the B2B part of Stytch's client OpenAPI spec into a JSON file the tests carry.

The spec (stytchauth/stytch-mobile, ``source/sdks/sdk/resources/openapi.yml``, MIT licence) is
half a megabyte of YAML; the test of the emulator's B2B replies needs only the 200 response
schema of each ``/sdk/v1/b2b/...`` operation and the schemas they reference. Keeping that
subset in ``tests/emulator/`` lets the test run everywhere, with no file outside the repo.

    python tools/openapi_subset.py SPEC.yml COMMIT > SUBSET.json

where SUBSET.json is ``tests/emulator/stytch_client_openapi_b2b_subset.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

PREFIX = "/sdk/v1/b2b/"
REF = "#/components/schemas/"
# Served by the SDKs but missing from the spec's paths; its schema is in the spec.
UNLISTED = {"POST /sdk/v1/b2b/organizations/search": "OrgSearchBySlugResponse"}


def referenced(value: Any) -> set[str]:
    """Every schema name that ``value`` refers to with a ``$ref``, directly."""
    if isinstance(value, dict):
        names = {value["$ref"].removeprefix(REF)} if isinstance(value.get("$ref"), str) else set()
        for item in value.values():
            names |= referenced(item)
        return names
    if isinstance(value, list):
        return set().union(*(referenced(item) for item in value)) if value else set()
    return set()


def subset(spec: dict[str, Any], commit: str) -> dict[str, Any]:
    operations: dict[str, Any] = {}
    for template, methods in spec["paths"].items():
        if not template.startswith(PREFIX):
            continue
        for method, operation in methods.items():
            content = operation.get("responses", {}).get("200", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema")
            if schema is not None:
                operations[f"{method.upper()} {template}"] = schema
    for operation, name in UNLISTED.items():
        operations.setdefault(operation, {"$ref": REF + name})
    schemas = spec["components"]["schemas"]
    wanted, todo = set(), referenced(operations)
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo |= referenced(schemas[name])
    return {
        "_source": (
            "Extracted by tools/openapi_subset.py from Stytch's client API spec "
            f"(stytchauth/stytch-mobile, source/sdks/sdk/resources/openapi.yml, commit {commit}, "
            "MIT licence, see STYTCH_MOBILE_LICENSE.txt): the 200 response schema of every "
            f"{PREFIX} operation and every schema they reference. The schemas describe the "
            "'data' object of a reply."
        ),
        "operations": operations,
        "components": {"schemas": {name: schemas[name] for name in sorted(wanted)}},
    }


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(
            "usage: python tools/openapi_subset.py SPEC.yml COMMIT > SUBSET.json", file=sys.stderr
        )
        return 2
    spec = yaml.load(Path(argv[1]).read_text(), Loader=yaml.CSafeLoader)
    json.dump(subset(spec, argv[2]), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
