"""Statistics at province size on PostgreSQL: the tallies against a plain GROUP BY over the ledger, and the export.

    .venv/bin/python -m benchmarks.statistics                 # the issue's province (~25 min on 2 cores)
    .venv/bin/python -m benchmarks.statistics --scale 0.05    # a quick look

It generates, in a fresh database migrated by Alembic: 1 province, 17 cities and 82 counties (100 HR bureaus),
2,000 competent departments, 20,000 units, 1,000,000 learners (97 % approved) and 15,000,000 ledger entries over
2024–2026 (five a person a year: one 公需, two 专业 courses, two declarations), set-based in SQL. The tallies are
filled by the migration's own backfill (the set-based form of what every posting does one at a time). Then, in
the same run, alternating so that load hits both alike:

- ``tallies``: ``lms.statistics.service.report`` — the figures and every direct child's, as the page and the API
  answer them;
- ``plain``: the same numbers from a GROUP BY over the ledger and the people (``PLAIN_SQL``);

for the province, one city and one unit; the two must agree. Last, the people export of ``lms.statistics.export``
for 10,000 and 100,000 rows, with the process's resident memory sampled while it runs. Results:
``benchmarks/results/statistics.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics as stats
import threading
import time
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from lms import create_app
from lms.config import Config
from lms.extensions import db
from lms.orgs.models import Org
from lms.statistics import export, service
from tests.support import services

YEAR = 2026
RESULTS = Path(__file__).resolve().parents[1] / "results" / "statistics.md"
MIGRATION = (Path(__file__).resolve().parents[2] / "lms" / "migrations" / "versions"
             / "f8d0b2c4e6a7_add_statistics_tallies.py")

GENERATE = [
    # HR bureaus: the province (id 1), 17 cities under it, 82 counties under the cities.
    """INSERT INTO orgs (id, kind, name, parent_id, path, status, archive_agency, reviews_own_hours, created_at)
       VALUES (1, 'province_hr', '省人力资源和社会保障厅', NULL, '/1/', 'approved', false, false, now())""",
    """INSERT INTO orgs (id, kind, name, parent_id, path, status, archive_agency, reviews_own_hours, created_at)
       SELECT 1 + c, 'city_hr', '市人社局' || c, 1, '/1/' || (1 + c) || '/', 'approved', false, false, now()
       FROM generate_series(1, 17) c""",
    """INSERT INTO orgs (id, kind, name, parent_id, path, status, archive_agency, reviews_own_hours, created_at)
       SELECT 18 + k, 'county_hr', '县人社局' || k, 2 + (k % 17), '/1/' || (2 + (k % 17)) || '/' || (18 + k) || '/',
              'approved', false, false, now() FROM generate_series(1, 82) k""",
    # Departments under bureaus (round robin over all 100), units under departments (10 each).
    """INSERT INTO orgs (id, kind, name, credit_code, parent_id, path, status, archive_agency, reviews_own_hours,
                         created_at)
       SELECT 1000 + d, 'department', '主管部门' || d, 'D' || lpad(d::text, 17, '0'), p.id, p.path || (1000 + d) || '/',
              'approved', false, false, now()
       FROM generate_series(1, :departments) d JOIN orgs p ON p.id = 1 + (d % 100)""",
    """INSERT INTO orgs (id, kind, name, credit_code, parent_id, path, status, archive_agency, reviews_own_hours,
                         created_at)
       SELECT 100000 + u, 'unit', '用人单位' || u, 'U' || lpad(u::text, 17, '0'), p.id, p.path || (100000 + u) || '/',
              'approved', false, false, now()
       FROM generate_series(1, :units) u JOIN orgs p ON p.id = 1000 + 1 + (u % :departments)""",
    # Learners, spread evenly over the units; 2 % pending, 1 % rejected, 0.5 % disabled.
    """INSERT INTO users (id, login, id_number, name, phone, role, org_id, status, title_series, professional_post,
                          password_hash, session_version, created_at, disabled_at)
       SELECT n, 'L' || n, 'N' || lpad(n::text, 17, '0'), '学员' || n, '139' || lpad((n % 100000000)::text, 8, '0'),
              'learner', 100000 + 1 + (n % :units),
              CASE WHEN n % 50 = 0 THEN 'pending' WHEN n % 100 = 1 THEN 'rejected' ELSE 'approved' END,
              (ARRAY['工程技术人员', '卫生技术人员', '中小学教师', '经济专业人员'])[1 + n % 4], '工程师', '!', 1,
              now(), CASE WHEN n % 200 = 3 THEN now() END
       FROM generate_series(1, :people) n""",
    # Five entries a person a year for the approved: a 公需 course, two 专业 courses, two declarations, with hours
    # drawn so that roughly half meet the year, some are close and some far behind.
    """INSERT INTO ledger_entries (user_id, year, category, hours, source_type, source_id, purpose, kind, earned_on,
                                   description, posted_at)
       SELECT u.id, y, CASE WHEN k = 1 THEN 'public' ELSE 'professional' END,
              round((CASE WHEN k = 1 THEN 20 + random() * 16 ELSE 8 + random() * 16 END)::numeric, 1),
              CASE WHEN k <= 3 THEN 'course' ELSE 'declaration' END,
              ((u.id::bigint * 3 + (y - 2024)) * 5 + k)::int, 'credit',
              CASE WHEN k = 4 THEN 'academic' WHEN k = 5 THEN 'training' END,
              make_date(y, 1 + (u.id % 12), 1 + (k * 5)), '生成的学时', now()
       FROM users u CROSS JOIN generate_series(2024, 2026) y CROSS JOIN generate_series(1, 5) k
       WHERE u.status = 'approved'""",
    "SELECT setval(pg_get_serial_sequence('orgs', 'id'), (SELECT max(id) FROM orgs))",
    "SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users))",
]

# The plain way: every person's balance summed from the ledger, then counted (the same thresholds as the tallies).
PLAIN_SQL = sa.text("""
    WITH members AS (
        SELECT u.id, u.status, u.disabled_at FROM users u JOIN orgs o ON o.id = u.org_id
        WHERE o.path LIKE :pattern AND u.role = 'learner'),
    balances AS (
        SELECT e.user_id, SUM(CASE WHEN e.category = 'public' THEN e.hours ELSE 0 END) AS pub,
               SUM(CASE WHEN e.category = 'professional' THEN e.hours ELSE 0 END) AS pro
        FROM ledger_entries e JOIN members m ON m.id = e.user_id WHERE e.year = :year GROUP BY e.user_id)
    SELECT (SELECT count(*) FROM members), (SELECT count(*) FROM members WHERE status = 'approved'),
           SUM(CASE WHEN pub + pro >= 90 AND pub >= 30 AND pro >= 60 THEN 1 ELSE 0 END),
           SUM(CASE WHEN NOT (pub + pro >= 90 AND pub >= 30 AND pro >= 60) AND pub + pro >= 72 THEN 1 ELSE 0 END),
           SUM(CASE WHEN pub + pro < 72 AND pub + pro > 0 THEN 1 ELSE 0 END), SUM(pub), SUM(pro)
    FROM balances""")


def plain(root: Org) -> tuple:
    row = db.session.execute(PLAIN_SQL, {"pattern": root.path + "%", "year": YEAR}).one()
    return tuple(Decimal(v or 0) for v in row)


def kept(report: service.Report) -> tuple:
    from lms.courses.models import Category

    r = report.root
    return tuple(Decimal(v) for v in (r.registered, r.approved, r.standings["met"], r.standings["close"],
                                      r.standings["short"], r.category_hours(Category.PUBLIC),
                                      r.category_hours(Category.PROFESSIONAL)))


def timed(call, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        db.session.rollback()  # a fresh transaction each time, as a request has
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


class RssSampler(threading.Thread):
    """The process's resident memory every 50 ms while an export runs."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples: list[int] = []
        self.running = True

    def run(self):
        page = os.sysconf("SC_PAGE_SIZE")
        while self.running:
            with open("/proc/self/statm") as statm:
                self.samples.append(int(statm.read().split()[1]) * page)
            time.sleep(0.05)


def measure_export(root_id: int, rows: int) -> dict:
    db.session.rollback()
    query = service.people_query(None, db.session.get(Org, root_id), YEAR, {})
    sampler = RssSampler()
    sampler.start()
    time.sleep(0.1)
    before = sampler.samples[-1]
    started = time.perf_counter()
    target = Path("/tmp") / f"lms-bench-export-{rows}.xlsx"
    written = export.write_people(query, YEAR, False, target, max_rows=rows)
    seconds = time.perf_counter() - started
    sampler.running = False
    sampler.join()
    size = target.stat().st_size
    target.unlink()
    db.session.expunge_all()
    return {"rows": written, "seconds": seconds, "rss_start_mb": before / 2**20,
            "rss_peak_mb": max(sampler.samples) / 2**20, "file_mb": size / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0,
                        help="share of the issue's province (1.0 = 1,000,000 people)")
    parser.add_argument("--repeat", type=int, default=40, help="timed reports per level (the plain query: 3)")
    args = parser.parse_args()
    sizes = {"people": int(1_000_000 * args.scale), "units": max(10, int(20_000 * args.scale)),
             "departments": max(2, int(2_000 * args.scale))}
    url = services.create_test_database()
    try:
        app = create_app(Config.from_env({}, database_url=url, redis_url=None, secret_key="benchmark"))
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            started = time.perf_counter()
            connection = db.session.connection()
            for statement in GENERATE:
                connection.execute(sa.text(statement), sizes)
            db.session.commit()
            generated = time.perf_counter() - started
            started = time.perf_counter()
            _backfill(db.session.connection())
            db.session.execute(sa.text("ANALYZE"))
            db.session.commit()
            filled = time.perf_counter() - started
            counts = db.session.execute(sa.text(
                "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM ledger_entries), "
                "(SELECT count(*) FROM orgs), (SELECT count(*) FROM org_year_tallies)")).one()
            print(f"generated {counts[0]:,} people, {counts[1]:,} ledger entries, {counts[2]:,} organisations "
                  f"in {generated:.0f} s; tallies filled in {filled:.0f} s ({counts[3]:,} organisation-years)")
            roots = {"province": db.session.get(Org, 1), "city": db.session.get(Org, 2),
                     "unit": db.session.get(Org, 100001)}
            lines = []
            for level, root in roots.items():
                path = root.path
                root_id = root.id

                def report(root_id=root_id):
                    return service.report(db.session.get(Org, root_id), YEAR)

                assert kept(report()) == plain(db.session.get(Org, root_id)), f"{level}: tallies ≠ plain query"
                tally_ms, plain_ms = [], []
                for _ in range(3):  # alternate so that load on a shared machine hits both alike
                    tally_ms += timed(report, max(1, args.repeat // 3))
                    plain_ms += timed(lambda root_id=root_id: plain(db.session.get(Org, root_id)), 1)
                line = {"level": level, "path": path, "tally_p50": stats.median(tally_ms), "tally_p95": p95(tally_ms),
                        "plain_p50": stats.median(plain_ms), "ratio": stats.median(plain_ms) / stats.median(tally_ms)}
                lines.append(line)
                print(f"{level:8} tallies p50 {line['tally_p50']:8.1f} ms  p95 {line['tally_p95']:8.1f} ms   "
                      f"plain p50 {line['plain_p50']:9.1f} ms   plain ÷ tallies {line['ratio']:7.1f}×")
            exports = [measure_export(1, rows) for rows in (10_000, 100_000)]
            for e in exports:
                print(f"export {e['rows']:>7,} rows: {e['seconds']:6.1f} s, resident memory {e['rss_start_mb']:.0f} → "
                      f"peak {e['rss_peak_mb']:.0f} MB, file {e['file_mb']:.1f} MB")
            _write_results(args, sizes, counts, generated, filled, lines, exports)
    finally:
        services.drop_test_database(url)


def _backfill(connection) -> None:
    """Run the migration's own set-based backfill of the tallies."""
    spec = importlib.util.spec_from_file_location("statistics_migration", MIGRATION)
    module = importlib.util.module_from_spec(spec)

    class Op:
        @staticmethod
        def execute(statement):
            connection.execute(sa.text(statement))

        @staticmethod
        def get_bind():
            return connection

    spec.loader.exec_module(module)
    module.op = Op
    module._backfill()


def _write_results(args, sizes, counts, generated, filled, lines, exports) -> None:
    machine = f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}"
    with db.engine.connect() as conn:
        version = conn.execute(sa.text("SHOW server_version")).scalar()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    out = [f"# Statistics at province size (scale {args.scale})", "",
           f"Machine: {machine}, PostgreSQL {version}. Command: `.venv/bin/python -m benchmarks.statistics "
           f"--scale {args.scale} --repeat {args.repeat}`; measured {when}.",
           "", f"Data: {counts[0]:,} people, {counts[1]:,} ledger entries, {counts[2]:,} organisations "
           f"(generated in {generated:.0f} s; tallies filled by the migration's backfill in {filled:.0f} s).", "",
           "| level | tallies p50 | tallies p95 | plain GROUP BY p50 | plain ÷ tallies |", "|---|---|---|---|---|"]
    for line in lines:
        out.append(f"| {line['level']} (`{line['path']}`) | {line['tally_p50']:.1f} ms | {line['tally_p95']:.1f} ms | "
                   f"{line['plain_p50']:.1f} ms | {line['ratio']:.1f}× |")
    out += ["", "| export | time | resident memory start → peak | file |", "|---|---|---|---|"]
    for e in exports:
        out.append(f"| {e['rows']:,} rows | {e['seconds']:.1f} s | "
                   f"{e['rss_start_mb']:.0f} → {e['rss_peak_mb']:.0f} MB | {e['file_mb']:.1f} MB |")
    RESULTS.write_text("\n".join(out) + "\n", encoding="utf-8")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
