-- crm.features as one query: every column of the table, for every month
-- that has bills (what features.Builder.Build builds), from crm.cdr,
-- crm.bills and crm.subscribers. Trino dialect, so Athena (engine 3) and
-- Trino run it as it is on the Glue catalog's tables; Spark SQL needs
-- day_of_week → dayofweek-based arithmetic, day_of_year → dayofyear and
-- last_day_of_month → last_day. `make bench` runs this text in DuckDB over
-- the same Parquet data files (bench/duckdb_featuresql.go: views crm.cdr,
-- crm.bills, crm.subscribers and three macros for the Trino function names)
-- and compares it with the Go builder's rows column by column.
--
-- Definitions (the Go builder's, models/features):
--   customers of a month: the register as of the month's last day (the
--     newest export on or before it; for subscribers not in it, the oldest
--     later export that lists them), activated by that day and not shown
--     deactivated by then (the status_date of the first export that shows
--     the subscriber deactivated);
--   usage: the calendar month (UTC) of crm.cdr; peak = Monday-Friday
--     08:00-19:59, weekend = Saturday and Sunday; contacts = distinct other
--     parties of SMS and of voice calls not to the care line;
--   bills: the month's bill; months_in_arrears = consecutive bills up to
--     this month with arrears, at most 13 (the builder reads a year back);
--   trends: this month / the mean of the known values of the subscriber's
--     feature rows of the three months before - 1 (empty when either is
--     empty or the mean is 0); spend is amount_due;
--   tenure_months: whole calendar months from activation to the month's
--     last day; age_band: age on that day in years (a birthday counts from
--     its day of the year, as the builder does).
WITH months AS (
	SELECT month, last_day_of_month(month) AS e, year(month) * 12 + month(month) AS mi
	FROM (SELECT DISTINCT bill_month AS month FROM crm.bills) m
),
cdr AS (
	SELECT subscriber_id, other_party_hash, other_network, call_type, direction, roaming, international,
		duration_s, data_kb, charge, start_time,
		CAST(date_trunc('month', start_time) AS DATE) AS month,
		call_type = 'voice' AS voice
	FROM crm.cdr
),
usage AS (
	SELECT subscriber_id, month,
		count(*) FILTER (WHERE voice) AS voice_calls,
		sum(duration_s) FILTER (WHERE voice) AS voice_secs,
		count(*) FILTER (WHERE call_type = 'sms') AS sms,
		sum(data_kb) FILTER (WHERE call_type NOT IN ('voice', 'sms')) AS data_kb,
		count(DISTINCT CASE WHEN call_type = 'sms' OR (voice AND other_network <> 'care') THEN other_party_hash END) AS contacts,
		count(*) FILTER (WHERE voice AND roaming) AS roaming_calls,
		count(*) FILTER (WHERE voice AND international) AS intl_calls,
		count(*) FILTER (WHERE voice AND day_of_week(start_time) <= 5 AND hour(start_time) BETWEEN 8 AND 19) AS peak,
		count(*) FILTER (WHERE voice AND day_of_week(start_time) >= 6) AS weekend,
		count(*) FILTER (WHERE voice AND direction = 'out') AS out_voice,
		count(*) FILTER (WHERE voice AND direction = 'out' AND other_network = 'offnet') AS offnet_out,
		count(*) FILTER (WHERE voice AND charge >= 1.00) AS high_value,
		count(*) FILTER (WHERE voice AND other_network = 'care') AS care,
		count(DISTINCT CAST(start_time AS DATE)) AS active_days,
		sum(charge) AS charge
	FROM cdr
	GROUP BY subscriber_id, month
),
reg AS (
	SELECT export_date, subscriber_id, gender, birth_date, income_band, region, plan, activation_date, status,
		status_date, payment_method, credit_limit
	FROM crm.subscribers
),
deact AS (
	SELECT subscriber_id, min_by(status_date, export_date) AS gone
	FROM reg WHERE status = 'deactivated' GROUP BY subscriber_id
),
snap AS (
	SELECT m.month, max(d.export_date) AS export_date
	FROM months m JOIN (SELECT DISTINCT export_date FROM reg) d ON d.export_date <= m.e
	GROUP BY m.month
),
base AS (
	SELECT m.month, m.e, m.mi, r.subscriber_id, r.gender, r.birth_date, r.income_band, r.region, r.plan,
		r.activation_date, r.status, r.payment_method, r.credit_limit
	FROM months m JOIN snap s ON s.month = m.month JOIN reg r ON r.export_date = s.export_date
),
late AS (
	SELECT month, e, mi, subscriber_id, gender, birth_date, income_band, region, plan, activation_date, status,
		payment_method, credit_limit
	FROM (
		SELECT m.month, m.e, m.mi, r.subscriber_id, r.gender, r.birth_date, r.income_band, r.region, r.plan,
			r.activation_date, r.status, r.payment_method, r.credit_limit,
			row_number() OVER (PARTITION BY m.month, r.subscriber_id ORDER BY r.export_date) AS rn
		FROM months m JOIN reg r ON r.export_date > m.e
		WHERE NOT EXISTS (SELECT 1 FROM base b WHERE b.month = m.month AND b.subscriber_id = r.subscriber_id)
	) l
	WHERE rn = 1
),
customers AS (
	SELECT c.*
	FROM (SELECT * FROM base UNION ALL SELECT * FROM late) c
	LEFT JOIN deact d ON d.subscriber_id = c.subscriber_id
	WHERE c.activation_date <= c.e AND (d.gone IS NULL OR d.gone > c.e)
),
bills AS (
	SELECT subscriber_id, bill_month, year(bill_month) * 12 + month(bill_month) AS bi,
		amount_due, amount_paid, arrears, discount, payment_method, credit_limit
	FROM crm.bills
),
arrears_runs AS (
	-- Consecutive months with arrears: bi - row_number() is constant along
	-- a run; the position in the run is the run's length up to that month.
	SELECT subscriber_id, bi, row_number() OVER (PARTITION BY subscriber_id, grp ORDER BY bi) AS run
	FROM (
		SELECT subscriber_id, bi, bi - row_number() OVER (PARTITION BY subscriber_id ORDER BY bi) AS grp
		FROM bills WHERE arrears > 0
	) a
),
f0 AS (
	SELECT c.month, c.mi, c.subscriber_id,
		CASE WHEN b.subscriber_id IS NULL AND coalesce(c.plan, '') = '' THEN 'unknown' ELSE c.plan END AS plan,
		nullif(c.region, '') AS region,
		CASE
			WHEN c.birth_date IS NULL THEN NULL
			WHEN age < 18 THEN '<18'
			WHEN age < 25 THEN '18-24'
			WHEN age < 35 THEN '25-34'
			WHEN age < 45 THEN '35-44'
			WHEN age < 55 THEN '45-54'
			WHEN age < 65 THEN '55-64'
			ELSE '65+'
		END AS age_band,
		nullif(c.gender, '') AS gender,
		nullif(c.income_band, '') AS income_band,
		coalesce(nullif(b.payment_method, ''), nullif(c.payment_method, '')) AS payment_method,
		CASE WHEN c.status = 'suspended' THEN 'suspended' ELSE 'active' END AS status,
		CAST(greatest(0, (year(c.e) - year(c.activation_date)) * 12 + month(c.e) - month(c.activation_date)
			- CASE WHEN day(c.e) < day(c.activation_date) THEN 1 ELSE 0 END) AS INTEGER) AS tenure_months,
		CAST(coalesce(u.voice_calls, 0) AS INTEGER) AS voice_calls,
		CAST(coalesce(u.voice_secs, 0) AS DOUBLE) / 60 AS voice_minutes,
		CAST(u.voice_secs AS DOUBLE) / nullif(u.voice_calls, 0) AS avg_call_s,
		CAST(coalesce(u.sms, 0) AS INTEGER) AS sms,
		CAST(coalesce(u.data_kb, 0) AS DOUBLE) / 1024 AS data_mb,
		CAST(coalesce(u.contacts, 0) AS INTEGER) AS distinct_contacts,
		CAST(coalesce(u.roaming_calls, 0) AS INTEGER) AS roaming_calls,
		CAST(coalesce(u.intl_calls, 0) AS INTEGER) AS intl_calls,
		CAST(u.peak AS DOUBLE) / nullif(u.voice_calls, 0) AS peak_share,
		CAST(u.weekend AS DOUBLE) / nullif(u.voice_calls, 0) AS weekend_share,
		CAST(u.offnet_out AS DOUBLE) / nullif(u.out_voice, 0) AS offnet_share,
		CAST(coalesce(u.high_value, 0) AS INTEGER) AS high_value_calls,
		CAST(coalesce(u.care, 0) AS INTEGER) AS care_calls,
		CAST(coalesce(u.active_days, 0) AS INTEGER) AS active_days,
		CAST(round(coalesce(u.charge, 0), 2) AS DECIMAL(12, 2)) AS usage_charge,
		b.amount_due, b.amount_paid,
		CAST(b.amount_paid AS DOUBLE) / nullif(CAST(b.amount_due AS DOUBLE), 0) AS paid_ratio,
		b.arrears,
		-- Not least(): DuckDB's skips nulls, Trino's returns null.
		CAST(CASE WHEN ar.run IS NULL THEN 0 WHEN ar.run > 13 THEN 13 ELSE ar.run END AS INTEGER) AS months_in_arrears,
		b.discount,
		coalesce(b.credit_limit, c.credit_limit) AS credit_limit,
		CASE WHEN b.subscriber_id IS NOT NULL AND coalesce(b.credit_limit, c.credit_limit) > 0
			THEN CAST(b.amount_due AS DOUBLE) / CAST(coalesce(b.credit_limit, c.credit_limit) AS DOUBLE) END AS credit_use
	FROM (
		SELECT customers.*, year(e) - year(birth_date)
			- CASE WHEN day_of_year(e) < day_of_year(birth_date) THEN 1 ELSE 0 END AS age
		FROM customers
	) c
	LEFT JOIN usage u ON u.subscriber_id = c.subscriber_id AND u.month = c.month
	LEFT JOIN bills b ON b.subscriber_id = c.subscriber_id AND b.bill_month = c.month
	LEFT JOIN arrears_runs ar ON ar.subscriber_id = c.subscriber_id AND ar.bi = c.mi
),
hist AS (
	SELECT f.month, f.subscriber_id,
		avg(h.voice_minutes) AS minutes, avg(CAST(h.voice_calls AS DOUBLE)) AS calls, avg(h.data_mb) AS data_mb,
		avg(CAST(h.distinct_contacts AS DOUBLE)) AS contacts, avg(CAST(h.amount_due AS DOUBLE)) AS spend
	FROM f0 f JOIN f0 h ON h.subscriber_id = f.subscriber_id AND h.mi BETWEEN f.mi - 3 AND f.mi - 1
	GROUP BY f.month, f.subscriber_id
)
SELECT f.month, f.subscriber_id, f.plan, f.region, f.age_band, f.gender, f.income_band, f.payment_method,
	f.status, f.tenure_months, f.voice_calls, f.voice_minutes, f.avg_call_s, f.sms, f.data_mb,
	f.distinct_contacts, f.roaming_calls, f.intl_calls, f.peak_share, f.weekend_share, f.offnet_share,
	f.high_value_calls, f.care_calls, f.active_days, f.usage_charge, f.amount_due, f.amount_paid,
	f.paid_ratio, f.arrears, f.months_in_arrears, f.discount, f.credit_limit, f.credit_use,
	f.voice_minutes / nullif(h.minutes, 0) - 1 AS voice_minutes_trend,
	CAST(f.voice_calls AS DOUBLE) / nullif(h.calls, 0) - 1 AS calls_trend,
	f.data_mb / nullif(h.data_mb, 0) - 1 AS data_trend,
	CAST(f.distinct_contacts AS DOUBLE) / nullif(h.contacts, 0) - 1 AS contacts_trend,
	CAST(f.amount_due AS DOUBLE) / nullif(h.spend, 0) - 1 AS spend_trend,
	current_timestamp AS built_at
FROM f0 f
LEFT JOIN hist h ON h.month = f.month AND h.subscriber_id = f.subscriber_id
