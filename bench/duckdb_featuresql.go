package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/features"
)

// The whole feature definition as SQL (features.SQL, Trino dialect) run in
// DuckDB over the lake's Parquet data files and compared with the Go
// builder's crm.features rows, every column of the table's schema but
// built_at (the clock of the build): strings, integers, dates and decimals
// exactly; doubles within sqlTolerance relative (the builder and DuckDB
// sum in different orders). DuckDB reads the text unchanged: views named
// crm.cdr, crm.bills and crm.subscribers, the session in UTC (Iceberg's
// timestamptz; Trino's hour() and date casts of it are in UTC too), and
// macros for the three Trino function names DuckDB spells differently.

const sqlTolerance = 1e-9

var trinoMacros = []string{
	"CREATE MACRO day_of_week(x) AS isodow(x)",
	"CREATE MACRO day_of_year(x) AS dayofyear(x)",
	"CREATE MACRO last_day_of_month(x) AS last_day(x)",
}

// sqlCheck is the comparison of features.SQL's rows with crm.features.
type sqlCheck struct {
	Seconds       float64 // DuckDB's time for the query
	TelcolakeRows int64
	SQLRows       int64
	OnlyOneSide   int64
	Exact, Float  []string         // the columns compared, by kind
	Differ        map[string]int64 // column → rows that differ
	Example       map[string]string
}

// OK reports whether every row and column agrees.
func (c sqlCheck) OK() bool {
	if c.TelcolakeRows == 0 || c.TelcolakeRows != c.SQLRows || c.OnlyOneSide != 0 {
		return false
	}
	for _, n := range c.Differ {
		if n != 0 {
			return false
		}
	}
	return true
}

// checkFeatureSQL runs features.SQL over the tables' data files and
// compares its rows with featureFiles (crm.features' current data files).
func checkFeatureSQL(ctx context.Context, files map[string][]string, featureFiles []string) (sqlCheck, error) {
	c := sqlCheck{Differ: map[string]int64{}, Example: map[string]string{}}
	db, err := openDuckDB()
	if err != nil {
		return c, err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return c, fmt.Errorf("feature sql: %w", err)
	}
	defer conn.Close()
	setup := []string{"SET TimeZone = 'UTC'", "CREATE SCHEMA crm"}
	for _, t := range []string{"cdr", "bills", "subscribers"} {
		if len(files[t]) == 0 {
			return c, fmt.Errorf("feature sql: no data files of crm.%s", t)
		}
		setup = append(setup, fmt.Sprintf("CREATE VIEW crm.%s AS SELECT * FROM read_parquet(%s)", t, sqlList(files[t])))
	}
	setup = append(setup, trinoMacros...)
	setup = append(setup, fmt.Sprintf("CREATE VIEW tl AS SELECT * FROM read_parquet(%s)", sqlList(featureFiles)))
	for _, q := range setup {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return c, fmt.Errorf("feature sql: %s: %w", q, err)
		}
	}
	t0 := time.Now()
	if _, err := conn.ExecContext(ctx, "CREATE TABLE q AS "+features.SQL); err != nil {
		return c, fmt.Errorf("feature sql: run models/features/features.sql: %w", err)
	}
	c.Seconds = time.Since(t0).Seconds()

	for _, f := range lake.FeaturesTable.Schema.Fields() {
		switch {
		case f.Name == "month" || f.Name == "subscriber_id" || f.Name == "built_at":
		case f.Type.String() == "double":
			c.Float = append(c.Float, f.Name)
		default:
			c.Exact = append(c.Exact, f.Name)
		}
	}
	var sel []string
	for _, col := range c.Exact {
		sel = append(sel, fmt.Sprintf("count(*) FILTER (WHERE t.%[1]s IS DISTINCT FROM d.%[1]s)", col))
	}
	for _, col := range c.Float {
		sel = append(sel, fmt.Sprintf("count(*) FILTER (WHERE (t.%[1]s IS NULL) <> (d.%[1]s IS NULL) OR abs(t.%[1]s - d.%[1]s) > %[2]g * greatest(1, abs(d.%[1]s)))",
			col, sqlTolerance))
	}
	q := fmt.Sprintf(`SELECT (SELECT count(*) FROM tl), (SELECT count(*) FROM q),
	count(*) FILTER (WHERE t.subscriber_id IS NULL OR d.subscriber_id IS NULL), %s
FROM tl t FULL OUTER JOIN q d ON t.month = d.month AND t.subscriber_id = d.subscriber_id`, strings.Join(sel, ",\n\t"))
	cols := append(append([]string{}, c.Exact...), c.Float...)
	differ := make([]int64, len(cols))
	dest := []any{&c.TelcolakeRows, &c.SQLRows, &c.OnlyOneSide}
	for i := range differ {
		dest = append(dest, &differ[i])
	}
	if err := conn.QueryRowContext(ctx, q).Scan(dest...); err != nil {
		return c, fmt.Errorf("feature sql: compare: %w", err)
	}
	for i, col := range cols {
		c.Differ[col] = differ[i]
		if differ[i] == 0 {
			continue
		}
		// One differing row per column, for the report: the values only
		// (no subscriber id).
		var ex string
		eq := fmt.Sprintf("t.%[1]s IS DISTINCT FROM d.%[1]s", col)
		err := conn.QueryRowContext(ctx, fmt.Sprintf(`SELECT strftime(t.month, '%%Y-%%m') || ': go ' || coalesce(CAST(t.%[1]s AS VARCHAR), 'NULL') ||
	', sql ' || coalesce(CAST(d.%[1]s AS VARCHAR), 'NULL')
FROM tl t JOIN q d ON t.month = d.month AND t.subscriber_id = d.subscriber_id WHERE %[2]s LIMIT 1`, col, eq)).Scan(&ex)
		if err == nil {
			c.Example[col] = ex
		}
	}
	return c, nil
}

// writeFeatureSQLCheck is the report's section on features.SQL.
func writeFeatureSQLCheck(b *strings.Builder, c sqlCheck) {
	fmt.Fprintf(b, "### The feature definition as one SQL query\n\n")
	fmt.Fprintf(b, "`models/features/features.sql` (Trino dialect: Athena engine 3 and Trino run it on the Glue catalog's\n"+
		"tables) is the whole definition of `crm.features`, every column, for every month with bills. DuckDB runs the\n"+
		"text unchanged over the same Parquet data files (views `crm.cdr`, `crm.bills`, `crm.subscribers`; session\n"+
		"time zone UTC; macros `day_of_week`, `day_of_year`, `last_day_of_month` for the Trino names) in %.2f s, and\n"+
		"its rows are joined with the Go builder's on (month, subscriber_id).\n\n", c.Seconds)
	verdict := "**MISMATCH**"
	if c.OK() {
		verdict = "agree"
	}
	fmt.Fprintf(b, "Result: %s — Go builder %s rows, SQL %s rows, %s on one side only.\n\n",
		verdict, thousands(c.TelcolakeRows), thousands(c.SQLRows), thousands(c.OnlyOneSide))
	fmt.Fprintf(b, "- compared exactly (strings, integers, decimals): %s\n", codeList(c.Exact))
	fmt.Fprintf(b, "- compared as doubles, relative difference ≤ %g (sums in another order): %s\n", sqlTolerance, codeList(c.Float))
	fmt.Fprintf(b, "- not compared: `built_at` (the clock of each build)\n")
	var p []string
	for _, col := range append(append([]string{}, c.Exact...), c.Float...) {
		if n := c.Differ[col]; n != 0 {
			p = append(p, fmt.Sprintf("`%s` %s (e.g. %s)", col, thousands(n), c.Example[col]))
		}
	}
	if len(p) == 0 {
		p = []string{"none"}
	}
	fmt.Fprintf(b, "- rows that differ, per column: %s\n\n", strings.Join(p, "; "))
}
