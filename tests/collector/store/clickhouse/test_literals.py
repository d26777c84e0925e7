"""/sql on the clickhouse engine: ? parameters become escaped literals only where they are code,
and a statement that writes or is not one statement is refused before ClickHouse sees it."""

from __future__ import annotations

import pytest
from kate.collector.errors import BadRequest, ValidationError
from kate.collector.store.clickhouse.literals import bind_positional, check_one_read


def test_parameters_are_bound_outside_literals_comments_and_quoted_names() -> None:
    sql = "SELECT '?', \"a?\", `b?`, ? -- ?\n/* ? */, ?, ?, ?, ?"
    bound = bind_positional(sql, ["it's \\ x", 3, 2.5, None, True])
    assert bound == "SELECT '?', \"a?\", `b?`, 'it\\'s \\\\ x' -- ?\n/* ? */, 3, 2.5, NULL, 1"


@pytest.mark.parametrize(("sql", "params", "message"), [
    ("SELECT ?", [], "more ? placeholders"),
    ("SELECT 1", [1], "1 params given for 0"),
    ("SELECT ?", [float("nan")], "params[0] must be a finite number"),
    ("SELECT ?", [[1, 2]], "params[0] must be a string, number, boolean or null"),
])
def test_wrong_parameters_are_refused_naming_them(sql: str, params: list[object], message: str) -> None:
    with pytest.raises(BadRequest) as raised:
        bind_positional(sql, params)
    assert message in raised.value.message and raised.value.details[0]["field"] == "params"


@pytest.mark.parametrize("sql", ["SELECT 1", "with x AS (SELECT 1) SELECT * FROM x", "(SELECT 1)", "SELECT ';'",
                                 "/* DROP */ SELECT 1", "SHOW TABLES", "SELEC 1"])
def test_reads_and_what_clickhouse_must_parse_go_through(sql: str) -> None:
    check_one_read(sql)


@pytest.mark.parametrize(("sql", "message"), [
    ("DELETE FROM runs", "must be a read-only SELECT, got DELETE"),
    ("  insert INTO spans VALUES (1)", "got INSERT"),
    ("SET readonly = 0", "got SET"),
    ("SELECT 1; DROP TABLE spans", "exactly one statement, got 2"),
])
def test_writes_and_several_statements_are_refused(sql: str, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        check_one_read(sql)
    assert message in raised.value.message
