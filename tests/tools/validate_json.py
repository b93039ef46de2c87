#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Validates a JSON Lines file against a JSON Schema (Draft 2020-12).

usage: validate_json.py SCHEMA FILE [--expect-count N]

Prints every failure as FILE:LINE: PATH: MESSAGE (a line that is not JSON,
or each way a record breaks the schema) and exits 1 when there was any,
when FILE holds no record at all, or when --expect-count is given and the
number of records differs. Empty lines are not records. Exits 2 on a usage
error or a schema that is itself invalid.
"""

import argparse
import json
import sys

try:
    import jsonschema
except ImportError:
    print("validate_json.py: python3-jsonschema is not installed (scripts/install-deps)",
          file=sys.stderr)
    sys.exit(2)


# A failed "not" quotes the whole record: enough of it to find the line.
MESSAGE_MAX = 300


def path_of(error):
    parts = ["$"]
    for p in error.absolute_path:
        parts.append(f"[{p}]" if isinstance(p, int) else f".{p}")
    return "".join(parts)


def leaf_errors(error):
    """The innermost errors: for if/then and anyOf, the ones that say what is wrong."""
    if not error.context:
        yield error
        return
    for sub in error.context:
        yield from leaf_errors(sub)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("schema")
    parser.add_argument("file")
    parser.add_argument("--expect-count", type=int, default=None)
    args = parser.parse_args()

    try:
        with open(args.schema, encoding="utf-8") as f:
            schema = json.load(f)
        jsonschema.Draft202012Validator.check_schema(schema)
    except (OSError, ValueError, jsonschema.SchemaError) as e:
        print(f"{args.schema}: not a valid schema: {e}", file=sys.stderr)
        return 2
    validator = jsonschema.Draft202012Validator(schema)

    failures = records = 0
    try:
        f = open(args.file, encoding="utf-8", errors="strict")
    except OSError as e:
        print(f"{args.file}: {e}", file=sys.stderr)
        return 1
    with f:
        try:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                records += 1
                try:
                    record = json.loads(line)
                except ValueError as e:
                    print(f"{args.file}:{number}: not JSON: {e}")
                    failures += 1
                    continue
                errors = sorted(validator.iter_errors(record), key=lambda e: list(e.path))
                said = set()
                for error in errors:
                    for leaf in leaf_errors(error):
                        message = f"{path_of(leaf)}: {leaf.message}"
                        if len(message) > MESSAGE_MAX:
                            message = message[:MESSAGE_MAX] + "..."
                        if message not in said:
                            said.add(message)
                            print(f"{args.file}:{number}: {message}")
                if errors:
                    failures += 1
        except UnicodeDecodeError as e:
            print(f"{args.file}: not UTF-8: {e}")
            failures += 1

    if records == 0:
        print(f"{args.file}: no records")
        return 1
    if args.expect_count is not None and records != args.expect_count:
        print(f"{args.file}: {records} records, expected {args.expect_count}")
        failures += 1
    if failures:
        print(f"{args.file}: {failures} of {records} records failed {args.schema}")
        return 1
    print(f"{args.file}: {records} records valid against {args.schema}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
