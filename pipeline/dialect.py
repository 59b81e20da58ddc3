"""DuckDB SQL as PostgreSQL runs it: the one place where the two dialects differ.

Every stage writes DuckDB SQL with `?` parameters. On a Postgres store each statement text is transpiled once
(sqlglot, cached by text) and its `?` become named parameters `%(pN)s`: sqlglot repeats an argument when it rewrites
a function (`list_contains(x, ?)` uses `?` twice), which would shift positional ones. A `%` of the SQL itself is
doubled when parameters are bound, so psycopg does not read it as one. Types that Postgres lacks are mapped here.

Kept apart from I/O: `to_postgres` is a pure function of the statement text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# DuckDB types without a Postgres twin; an unsigned 64-bit hash (doc_lsh.bucket) keeps its value in NUMERIC(20).
_TYPES = {"UBIGINT": "NUMERIC(20, 0)", "UINTEGER": "BIGINT", "USMALLINT": "INTEGER", "UTINYINT": "SMALLINT"}
_TYPE_RE = re.compile(r"\b(" + "|".join(_TYPES) + r")\b")
_INTERVAL_FUNCS = {
    f"to_{u.lower()}s": u
    for u in ("MICROSECOND", "MILLISECOND", "SECOND", "MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "YEAR")
}
_PLACEHOLDER = re.compile(r"%\(p\d+\)s")


class DialectError(ValueError):
    """A statement sqlglot cannot carry to Postgres; the message names it."""


@dataclass(frozen=True)
class Statement:
    sql: str  # Postgres text; `%(pN)s` for parameter N when `params` > 0
    params: int  # how many `?` the DuckDB text had


@lru_cache(maxsize=4096)
def to_postgres(sql: str) -> Statement:
    """The Postgres form of one DuckDB statement text (or several separated by `;`, then without parameters)."""
    import sqlglot
    from sqlglot import exp

    try:
        sql = _number_placeholders(sql)
        trees = [t for t in sqlglot.parse(sql, read="duckdb") if t is not None]
    except sqlglot.errors.SqlglotError as e:
        raise DialectError(f"cannot translate to Postgres: {str(e).splitlines()[0]}") from None
    n = numbered = 0
    for tree in trees:
        _group_by_all(tree)
        for fn in list(tree.find_all(exp.Func)):  # DuckDB's to_seconds(n) and kin: n times an interval
            anon = isinstance(fn, exp.Anonymous)
            unit = _INTERVAL_FUNCS.get((fn.name if anon else fn.sql_name()).lower())
            arg = (fn.expressions[0] if len(fn.expressions) == 1 else None) if anon else fn.this
            if unit and isinstance(arg, exp.Expression):
                one = exp.Interval(this=exp.Literal.string("1"), unit=exp.Var(this=unit))
                fn.replace(exp.Paren(this=exp.Mul(this=exp.Paren(this=arg), expression=one)))
        for rnd in list(tree.find_all(exp.Round)):  # Postgres rounds to n places only a NUMERIC
            if rnd.args.get("decimals") is not None and not isinstance(rnd.parent, exp.Cast):
                rnd.set("this", exp.Cast(this=rnd.this, to=exp.DataType.build("NUMERIC")))
                rnd.replace(exp.Cast(this=rnd.copy(), to=exp.DataType.build("DOUBLE")))
        for k, sub in enumerate(tree.find_all(exp.Subquery)):  # Postgres 15 names every subquery in FROM
            if isinstance(sub.parent, (exp.From, exp.Join)) and not sub.alias:
                sub.set("alias", exp.TableAlias(this=exp.to_identifier(f"_sub{k}")))
        for am in list(tree.find_all(exp.ArgMax, exp.ArgMin)):
            _arg_max(am)
        for agg in list(tree.find_all(exp.AnyValue)):  # Postgres 16 has any_value, 15 not: min is one value
            wrapper = agg.parent if isinstance(agg.parent, exp.IgnoreNulls) else agg  # min skips NULLs itself
            wrapper.replace(exp.Min(this=agg.this))
        for c in list(tree.find_all(exp.Contains)):  # DuckDB's contains(text, part); Postgres has no such function
            found = exp.StrPosition(this=c.this, substr=c.expression)
            c.replace(exp.Paren(this=exp.GT(this=found, expression=exp.Literal.number(0))))
        for node in list(tree.find_all(exp.Placeholder)):
            if node.this is None or node.name == "?":  # a positional `?`
                node.replace(exp.Placeholder(this=f"p{n}"))
                n += 1
            elif str(node.this).isdigit():  # `$1`: the first parameter, wherever it appears
                numbered = max(numbered, int(node.this))
                node.replace(exp.Placeholder(this=f"p{int(node.this) - 1}"))
    n = max(n, numbered)
    out = ";\n".join(t.sql(dialect="postgres") for t in trees)
    out = _TYPE_RE.sub(lambda m: _TYPES[m.group(1)], out)
    if n:
        out = _escape_percent(out)
    return Statement(out, n)


def _number_placeholders(sql: str) -> str:
    """`?` as `$1`, `$2`… in the order they appear in the text: sqlglot's tree does not keep that order (a LIMIT's
    `?` comes before a WHERE's in a walk), numbered ones are bound by number wherever they end up."""
    if "?" not in sql:
        return sql
    from sqlglot.dialects.duckdb import DuckDB
    from sqlglot.tokens import TokenType

    out, last, n = [], 0, 0
    for tok in DuckDB().tokenize(sql):
        if tok.token_type == TokenType.PLACEHOLDER and tok.text == "?":
            n += 1
            out += [sql[last : tok.start], f"${n}"]
            last = tok.end + 1
    return "".join(out) + sql[last:] if n else sql


def _arg_max(node: object) -> None:
    """arg_max(x, y) / arg_min(x, y): the x of the row with the highest / lowest y (rows without y skipped), as
    the first of x ordered by y; a FILTER on it goes to the array_agg."""
    import sqlglot
    from sqlglot import exp

    assert isinstance(node, (exp.ArgMax, exp.ArgMin))
    x, y = node.this.sql(dialect="postgres"), node.expression.sql(dialect="postgres")
    outer: exp.Expression = node
    cond = f"{y} IS NOT NULL"
    if isinstance(node.parent, exp.Filter):
        outer = node.parent
        cond += f" AND ({outer.expression.this.sql(dialect='postgres')})"
    order = "DESC" if isinstance(node, exp.ArgMax) else "ASC"
    repl = sqlglot.parse_one(f"(ARRAY_AGG({x} ORDER BY {y} {order}) FILTER (WHERE {cond}))[1]", read="postgres")
    outer.replace(repl)


def _group_by_all(tree: object) -> None:
    """DuckDB's `GROUP BY ALL` as Postgres needs it: the positions of the select items that aggregate nothing;
    `ORDER BY ALL`: the positions of them all."""
    from sqlglot import exp

    assert isinstance(tree, exp.Expression)
    for select in list(tree.find_all(exp.Select)):
        group = select.args.get("group")
        if not (isinstance(group, exp.Group) and group.args.get("all")):
            continue
        keys = [
            exp.Literal.number(i + 1)
            for i, e in enumerate(select.expressions)
            if not any(e.find_all(exp.AggFunc)) and not any(e.find_all(exp.Window))
        ]
        select.set("group", exp.Group(expressions=keys) if keys else None)
    for select in list(tree.find_all(exp.Select)):  # ORDER BY ALL: every select item, in order
        order = select.args.get("order")
        first = order.expressions[0] if isinstance(order, exp.Order) and len(order.expressions) == 1 else None
        if isinstance(first, exp.Ordered) and isinstance(first.this, exp.Var) and first.this.name.upper() == "ALL":
            ordered = [
                exp.Ordered(
                    this=exp.Literal.number(i + 1),
                    desc=first.args.get("desc"),
                    nulls_first=first.args.get("nulls_first"),
                )
                for i in range(len(select.expressions))
            ]
            select.set("order", exp.Order(expressions=ordered))


def _escape_percent(sql: str) -> str:
    parts = _PLACEHOLDER.split(sql)
    marks = _PLACEHOLDER.findall(sql)
    out = [parts[0].replace("%", "%%")]
    for mark, rest in zip(marks, parts[1:], strict=True):
        out += [mark, rest.replace("%", "%%")]
    return "".join(out)


def bind(stmt: Statement, params: object) -> dict[str, object] | None:
    """The parameters of one execution as psycopg takes them for `stmt`."""
    if not stmt.params:
        if params:
            raise DialectError(f"statement takes no parameters, got {len(params)}")  # type: ignore[arg-type]
        return None
    values = list(params or [])  # type: ignore[call-overload]
    if len(values) != stmt.params:
        raise DialectError(f"statement takes {stmt.params} parameters, got {len(values)}")
    return {f"p{i}": v for i, v in enumerate(values)}
