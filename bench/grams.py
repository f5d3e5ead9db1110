"""What the customers' search grams cost a written row: public.crm_grams() (the SQL function of p0003, used by
search_grams until t0032) against grams_expression() (built-in functions, since t0032), beside no grams at all.

    .venv/bin/python bench/grams.py              # 30,000 rows of Faker names, phones, emails, companies (zh, en)

Servers as in bench/run.py. Each form is a stored generated column on an unlogged table of one text column,
filled by INSERT ... SELECT of the same rows, alternating forms, twice: without an index (the expression alone)
and with the GIN index (fastupdate off) the customers table has. Before timing, every row's grams are compared:
the new form must hold every gram the function cut, and its extras must be ones no search asks for (single
characters, grams with whitespace: crm.customers.queries.query_grams). Prints a table, writes
bench/results/grams.json.
"""
import json
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import RESULTS, machine, no_nan, plain_url, services  # noqa: E402

ROWS = 30_000
REPEATS = 2
BATCH = 5000


def sample_texts(n: int) -> list[str]:
    """Search texts as the customers' generated search_text makes them: lower-cased name, phone, email, company."""
    from faker import Faker

    Faker.seed(19)
    fakers = (Faker("zh_CN"), Faker("en_US"))
    return [f"{f.name()} {f.phone_number()} {f.email()} {f.company()}".lower()
            for f in (fakers[i % 2] for i in range(n))]


def main() -> None:
    import psycopg

    from crm.customers.models import grams_expression

    grams_function = (ROOT / "migrations/public/versions/0003_search_grams.py").read_text() \
        .split('GRAMS = r"""')[1].split('"""')[0]
    forms = {"none": None, "public.crm_grams()": "public.crm_grams(s)", "grams_expression()": grams_expression("s")}
    texts = sample_texts(ROWS)
    results = {"rows": ROWS, "forms": {}}
    with services() as (database_url, _redis, mode), psycopg.connect(plain_url(database_url),
                                                                      autocommit=True) as connection:
        connection.execute(grams_function)
        connection.execute("create table texts as select s, n from unnest(%s::text[]) with ordinality as t(s, n)",
                           (texts,))
        old_new = connection.execute(f"select public.crm_grams(s), {grams_expression('s')} from texts").fetchall()
        missing = sum(1 for old, new in old_new if not set(old) <= set(new))
        extra = sum(1 for old, new in old_new
                    if any(len(g) > 1 and not re.search(r"\s", g) for g in set(new) - set(old)))
        results["check"] = {"rows_missing_a_gram": missing, "rows_with_a_searchable_extra": extra,
                            "grams_per_row": {"function": sum(len(o) for o, _ in old_new) / ROWS,
                                              "expression": sum(len(n) for _, n in old_new) / ROWS}}
        for indexed in (False, True):
            for name, expression in forms.items():
                table = f"g_{list(forms).index(name)}_{int(indexed)}"
                grams = f", g text[] generated always as ({expression}) stored" if expression else ""
                connection.execute(f"create unlogged table {table} (s text{grams})")
                if indexed and expression:
                    connection.execute(f"create index on {table} using gin (g) with (fastupdate = off)")
            timings: dict[str, list[float]] = {name: [] for name in forms}
            for _ in range(REPEATS):
                for name in forms:
                    table = f"g_{list(forms).index(name)}_{int(indexed)}"
                    connection.execute(f"truncate {table}")
                    started = time.perf_counter()
                    for first in range(1, ROWS + 1, BATCH):  # under the bench database's statement timeout
                        connection.execute(f"insert into {table} (s) select s from texts where n >= %s and n < %s",
                                           (first, first + BATCH))
                    timings[name].append((time.perf_counter() - started) / ROWS * 1e6)
            for name in forms:
                table = f"g_{list(forms).index(name)}_{int(indexed)}"
                size = connection.execute(f"select pg_total_relation_size('{table}')").fetchone()[0]
                results["forms"].setdefault(name, {})["gin" if indexed else "plain"] = {
                    "us_per_row": min(timings[name]), "bytes": size}
        results["machine"] = machine(plain_url(database_url), mode)
    results["when"] = datetime.now(UTC).isoformat(timespec="seconds")
    print(f"\nSearch grams per written row ({ROWS:,} rows, best of {REPEATS}; load average at the end "
          f"{results['machine']['loadavg_at_end'][0]:.2f})")
    print(f"{'form':>20} | {'µs/row':>8} | {'with GIN':>8} | {'MB, GIN':>8}")
    for name, figures in results["forms"].items():
        print(f"{name:>20} | {figures['plain']['us_per_row']:8.1f} | {figures['gin']['us_per_row']:8.1f} | "
              f"{figures['gin']['bytes'] / 2**20:8.1f}")
    print(f"rows missing a gram: {missing}; rows with an extra gram a search could ask for: {extra}; grams a row: "
          + ", ".join(f"{k} {v:.1f}" for k, v in results["check"]["grams_per_row"].items()))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "grams.json").write_text(json.dumps(no_nan(results), indent=2, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
