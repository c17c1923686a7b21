package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// featureSpec is what the DuckDB feature child reads: the data files of the
// lake's tables, the months to build (first days, YYYY-MM-DD) and the
// Parquet file to write.
type featureSpec struct {
	CDR         []string `json:"cdr"`
	Bills       []string `json:"bills"`
	Subscribers []string `json:"subscribers"`
	Months      []string `json:"months"`
	Out         string   `json:"out"`
}

// runFeatureQuery is the hidden child mode of the features part: it runs
// featureQuery with an in-process DuckDB at its default settings and prints
// the number of rows written.
func runFeatureQuery(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("want SPEC.json, got %d arguments", len(args))
	}
	raw, err := os.ReadFile(args[0])
	if err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	var spec featureSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return fmt.Errorf("parse spec %s: %w", args[0], err)
	}
	q, err := featureQuery(spec)
	if err != nil {
		return err
	}
	db, err := openDuckDB()
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := db.ExecContext(ctx, q)
	if err != nil {
		return fmt.Errorf("feature query: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("feature query: rows: %w", err)
	}
	_, err = fmt.Fprintln(stdout, n)
	return err
}

// featureQuery is the SQL equivalent of features.Builder.Build for the
// spec's months, written to spec.Out as zstd Parquet: per subscriber and
// month the CDR aggregates, the month's bill, and the register as of the
// month's last day (the newest snapshot on or before it; for subscribers
// not in it, the oldest later snapshot that lists them), keeping the
// subscribers activated by that day and not deactivated (per the first
// snapshot that shows them deactivated) by then.
//
// Not computed here, as cheap per-row work on the output: the trends
// against earlier feature months, months in arrears, age band and tenure.
//
// Day, weekday and hour come from the epoch microseconds, as in the Go
// code, so no session time zone is involved.
func featureQuery(s featureSpec) (string, error) {
	if len(s.CDR) == 0 || len(s.Bills) == 0 || len(s.Subscribers) == 0 || len(s.Months) == 0 || s.Out == "" {
		return "", fmt.Errorf("feature spec: files, months and out are all required")
	}
	var months []string
	var first, after time.Time
	for i, m := range s.Months {
		t, err := time.Parse(time.DateOnly, m)
		if err != nil || t.Day() != 1 {
			return "", fmt.Errorf("feature spec: month %q is not the first day of a month", m)
		}
		end := t.AddDate(0, 1, -1)
		months = append(months, fmt.Sprintf("(DATE '%s', DATE '%s')", t.Format(time.DateOnly), end.Format(time.DateOnly)))
		if i == 0 || t.Before(first) {
			first = t
		}
		if next := t.AddDate(0, 1, 0); next.After(after) {
			after = next
		}
	}
	const usPerDay, usPerHour = 86_400_000_000, 3_600_000_000
	return fmt.Sprintf(`COPY (
WITH months(month, e) AS (VALUES %[1]s),
cdr AS (
	SELECT subscriber_id, other_party_hash, other_network, call_type, direction, roaming, international,
		duration_s, data_kb, charge, epoch_us(start_time) AS us,
		call_type = 'voice' AS voice
	FROM read_parquet(%[2]s)
	WHERE start_time >= TIMESTAMPTZ '%[3]s 00:00:00+00' AND start_time < TIMESTAMPTZ '%[4]s 00:00:00+00'
),
usage AS (
	SELECT subscriber_id,
		CAST(date_trunc('month', make_timestamp(us)) AS DATE) AS month,
		count(*) FILTER (WHERE voice) AS voice_calls,
		sum(duration_s) FILTER (WHERE voice) AS voice_secs,
		count(*) FILTER (WHERE call_type = 'sms') AS sms,
		sum(data_kb) FILTER (WHERE call_type NOT IN ('voice', 'sms')) AS data_kb,
		count(DISTINCT other_party_hash) FILTER (WHERE call_type = 'sms' OR (voice AND other_network <> 'care')) AS contacts,
		count(*) FILTER (WHERE voice AND roaming) AS roaming_calls,
		count(*) FILTER (WHERE voice AND international) AS intl_calls,
		count(*) FILTER (WHERE voice AND (us // %[5]d + 3) %% 7 < 5 AND (us // %[6]d) %% 24 BETWEEN 8 AND 19) AS peak,
		count(*) FILTER (WHERE voice AND (us // %[5]d + 3) %% 7 >= 5) AS weekend,
		count(*) FILTER (WHERE voice AND direction = 'out') AS out_voice,
		count(*) FILTER (WHERE voice AND direction = 'out' AND other_network = 'offnet') AS offnet_out,
		count(*) FILTER (WHERE voice AND charge >= 1.00) AS high_value,
		count(*) FILTER (WHERE voice AND other_network = 'care') AS care,
		count(DISTINCT us // %[5]d) AS active_days,
		sum(charge) AS charge
	FROM cdr
	GROUP BY ALL
),
reg AS (
	SELECT export_date, subscriber_id, gender, income_band, region, plan, activation_date, status, status_date,
		payment_method, credit_limit
	FROM read_parquet(%[7]s)
),
deact AS (
	SELECT subscriber_id, arg_min(status_date, export_date) AS gone
	FROM reg WHERE status = 'deactivated' GROUP BY subscriber_id
),
snap AS (
	SELECT m.month, m.e, max(d.export_date) AS export_date
	FROM months m JOIN (SELECT DISTINCT export_date FROM reg) d ON d.export_date <= m.e
	GROUP BY m.month, m.e
),
base AS (
	SELECT s.month, s.e, r.subscriber_id, r.gender, r.income_band, r.region, r.plan, r.activation_date, r.status,
		r.payment_method, r.credit_limit
	FROM snap s JOIN reg r ON r.export_date = s.export_date
),
late AS (
	SELECT m.month, m.e, r.subscriber_id, r.gender, r.income_band, r.region, r.plan, r.activation_date, r.status,
		r.payment_method, r.credit_limit
	FROM months m JOIN reg r ON r.export_date > m.e
	WHERE NOT EXISTS (SELECT 1 FROM base b WHERE b.month = m.month AND b.subscriber_id = r.subscriber_id)
	QUALIFY row_number() OVER (PARTITION BY m.month, r.subscriber_id ORDER BY r.export_date) = 1
),
customers AS (
	SELECT c.*
	FROM (SELECT * FROM base UNION ALL SELECT * FROM late) c
	LEFT JOIN deact d ON d.subscriber_id = c.subscriber_id
	WHERE c.activation_date <= c.e AND (d.gone IS NULL OR d.gone > c.e)
),
bills AS (
	SELECT subscriber_id, bill_month, amount_due, amount_paid, arrears, discount, payment_method, credit_limit
	FROM read_parquet(%[8]s)
	WHERE bill_month IN (SELECT month FROM months)
)
SELECT c.month, c.subscriber_id,
	CASE WHEN b.subscriber_id IS NULL AND coalesce(c.plan, '') = '' THEN 'unknown' ELSE c.plan END AS plan,
	c.region, c.gender, c.income_band,
	coalesce(nullif(b.payment_method, ''), c.payment_method) AS payment_method,
	CASE WHEN c.status = 'suspended' THEN 'suspended' ELSE 'active' END AS status,
	CAST(coalesce(u.voice_calls, 0) AS INTEGER) AS voice_calls,
	coalesce(u.voice_secs, 0) / 60 AS voice_minutes,
	u.voice_secs / nullif(u.voice_calls, 0) AS avg_call_s,
	CAST(coalesce(u.sms, 0) AS INTEGER) AS sms,
	coalesce(u.data_kb, 0) / 1024 AS data_mb,
	CAST(coalesce(u.contacts, 0) AS INTEGER) AS distinct_contacts,
	CAST(coalesce(u.roaming_calls, 0) AS INTEGER) AS roaming_calls,
	CAST(coalesce(u.intl_calls, 0) AS INTEGER) AS intl_calls,
	u.peak / nullif(u.voice_calls, 0) AS peak_share,
	u.weekend / nullif(u.voice_calls, 0) AS weekend_share,
	u.offnet_out / nullif(u.out_voice, 0) AS offnet_share,
	CAST(coalesce(u.high_value, 0) AS INTEGER) AS high_value_calls,
	CAST(coalesce(u.care, 0) AS INTEGER) AS care_calls,
	CAST(coalesce(u.active_days, 0) AS INTEGER) AS active_days,
	CAST(round(coalesce(u.charge, 0), 2) AS DECIMAL(12, 2)) AS usage_charge,
	b.amount_due, b.amount_paid,
	CAST(b.amount_paid AS DOUBLE) / nullif(CAST(b.amount_due AS DOUBLE), 0) AS paid_ratio,
	b.arrears, b.discount,
	coalesce(b.credit_limit, c.credit_limit) AS credit_limit,
	CASE WHEN b.subscriber_id IS NOT NULL AND coalesce(b.credit_limit, c.credit_limit) > 0
		THEN CAST(b.amount_due AS DOUBLE) / CAST(coalesce(b.credit_limit, c.credit_limit) AS DOUBLE) END AS credit_use
FROM customers c
LEFT JOIN usage u ON u.subscriber_id = c.subscriber_id AND u.month = c.month
LEFT JOIN bills b ON b.subscriber_id = c.subscriber_id AND b.bill_month = c.month
) TO %[9]s (FORMAT parquet, COMPRESSION zstd)`,
		strings.Join(months, ", "), sqlList(s.CDR), first.Format(time.DateOnly), after.Format(time.DateOnly),
		usPerDay, usPerHour, sqlList(s.Subscribers), sqlList(s.Bills), sqlString(s.Out)), nil
}

// sqlList quotes paths as a DuckDB list of string literals.
func sqlList(paths []string) string {
	q := make([]string, len(paths))
	for i, p := range paths {
		q[i] = sqlString(p)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// Columns the agreement check compares: exactly, and as floating point
// (relative difference up to checkTolerance).
var (
	exactColumns = []string{"plan", "region", "gender", "income_band", "payment_method", "status",
		"voice_calls", "sms", "distinct_contacts", "roaming_calls", "intl_calls", "high_value_calls", "care_calls",
		"active_days", "usage_charge", "amount_due", "amount_paid", "arrears", "discount", "credit_limit"}
	floatColumns = []string{"voice_minutes", "avg_call_s", "data_mb", "peak_share", "weekend_share", "offnet_share",
		"paid_ratio", "credit_use"}
)

const checkTolerance = 1e-9

// featureCheck is the result of comparing crm.features with DuckDB's
// result, row by row on (month, subscriber_id).
type featureCheck struct {
	TelcolakeRows, DuckDBRows int64
	Joined                    int64            // rows on both sides
	OnlyOneSide               int64            // rows on one side only
	Differ                    map[string]int64 // column → rows that differ
	// Totals over all rows, telcolake then DuckDB.
	VoiceCalls, Contacts, SMS, ActiveDays [2]int64
}

// OK reports whether the two results agree.
func (c featureCheck) OK() bool {
	if c.OnlyOneSide != 0 || c.TelcolakeRows != c.DuckDBRows || c.TelcolakeRows == 0 {
		return false
	}
	for _, n := range c.Differ {
		if n != 0 {
			return false
		}
	}
	return c.VoiceCalls[0] == c.VoiceCalls[1] && c.Contacts[0] == c.Contacts[1] &&
		c.SMS[0] == c.SMS[1] && c.ActiveDays[0] == c.ActiveDays[1]
}

// Problem describes a failed check.
func (c featureCheck) Problem() string {
	var p []string
	if c.TelcolakeRows != c.DuckDBRows || c.OnlyOneSide != 0 {
		p = append(p, fmt.Sprintf("telcolake %d rows, DuckDB %d rows, %d on one side only", c.TelcolakeRows, c.DuckDBRows, c.OnlyOneSide))
	}
	for _, col := range append(append([]string{}, exactColumns...), floatColumns...) {
		if n := c.Differ[col]; n != 0 {
			p = append(p, fmt.Sprintf("%s differs in %d rows", col, n))
		}
	}
	for _, t := range []struct {
		name string
		v    [2]int64
	}{{"voice calls", c.VoiceCalls}, {"distinct contacts", c.Contacts}, {"SMS", c.SMS}, {"active days", c.ActiveDays}} {
		if t.v[0] != t.v[1] {
			p = append(p, fmt.Sprintf("total %s: telcolake %d, DuckDB %d", t.name, t.v[0], t.v[1]))
		}
	}
	if len(p) == 0 {
		return "none"
	}
	return strings.Join(p, "; ")
}

// compareFeatures joins the feature table's data files with DuckDB's
// Parquet file on (month, subscriber_id) and counts the differences.
func compareFeatures(ctx context.Context, featureFiles []string, duckOut string) (featureCheck, error) {
	c := featureCheck{Differ: map[string]int64{}}
	db, err := openDuckDB()
	if err != nil {
		return c, err
	}
	defer db.Close()
	var sel []string
	for _, col := range exactColumns {
		sel = append(sel, fmt.Sprintf("count(*) FILTER (WHERE t.%[1]s IS DISTINCT FROM d.%[1]s)", col))
	}
	for _, col := range floatColumns {
		sel = append(sel, fmt.Sprintf("count(*) FILTER (WHERE (t.%[1]s IS NULL) <> (d.%[1]s IS NULL) OR abs(t.%[1]s - d.%[1]s) > %[2]g * greatest(1, abs(d.%[1]s)))",
			col, checkTolerance))
	}
	q := fmt.Sprintf(`WITH t AS (SELECT * FROM read_parquet(%s)), d AS (SELECT * FROM read_parquet(%s))
SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM d),
	count(*) FILTER (WHERE t.subscriber_id IS NOT NULL AND d.subscriber_id IS NOT NULL),
	count(*) FILTER (WHERE t.subscriber_id IS NULL OR d.subscriber_id IS NULL),
	(SELECT CAST(sum(voice_calls) AS BIGINT) FROM t), (SELECT CAST(sum(voice_calls) AS BIGINT) FROM d),
	(SELECT CAST(sum(distinct_contacts) AS BIGINT) FROM t), (SELECT CAST(sum(distinct_contacts) AS BIGINT) FROM d),
	(SELECT CAST(sum(sms) AS BIGINT) FROM t), (SELECT CAST(sum(sms) AS BIGINT) FROM d),
	(SELECT CAST(sum(active_days) AS BIGINT) FROM t), (SELECT CAST(sum(active_days) AS BIGINT) FROM d),
	%s
FROM t FULL OUTER JOIN d ON t.month = d.month AND t.subscriber_id = d.subscriber_id`,
		sqlList(featureFiles), sqlString(duckOut), strings.Join(sel, ",\n\t"))
	differ := make([]int64, len(exactColumns)+len(floatColumns))
	dest := []any{&c.TelcolakeRows, &c.DuckDBRows, &c.Joined, &c.OnlyOneSide,
		&c.VoiceCalls[0], &c.VoiceCalls[1], &c.Contacts[0], &c.Contacts[1],
		&c.SMS[0], &c.SMS[1], &c.ActiveDays[0], &c.ActiveDays[1]}
	for i := range differ {
		dest = append(dest, &differ[i])
	}
	if err := db.QueryRowContext(ctx, q).Scan(dest...); err != nil {
		return c, fmt.Errorf("compare features with DuckDB's result: %w", err)
	}
	for i, col := range append(append([]string{}, exactColumns...), floatColumns...) {
		c.Differ[col] = differ[i]
	}
	return c, nil
}
