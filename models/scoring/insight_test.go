package scoring_test

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/telcolake/telcolake/insight"
	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lake/laketest"
	"github.com/telcolake/telcolake/models/scoring"
	"github.com/telcolake/telcolake/models/serving"
)

// checkInsight holds the run's lifecycle report to the lake read
// independently: survival subjects and events per plan and their curves,
// transition totals, the at-risk share, the tracked run.
func checkInsight(t *testing.T, l *laketest.Lake, meta *serving.Meta, res *scoring.Result, cs []serving.Customer) {
	t.Helper()
	if len(meta.Insight) == 0 {
		t.Fatal("snapshot meta has no insight report")
	}
	var rep insight.Report
	if err := json.Unmarshal(meta.Insight, &rep); err != nil {
		t.Fatalf("insight report: %v", err)
	}
	t.Logf("insight report: %d bytes", len(meta.Insight))
	if rep.Run != meta.Run {
		t.Errorf("report run %s, want %s", rep.Run, meta.Run)
	}

	// Survival by plan, from each subscriber's newest register row.
	type row struct {
		export, activation, status time.Time
		state, plan                string
	}
	newest := map[string]row{}
	var end time.Time
	at := readTable(t, l, lake.SubscribersTable, "export_date", "subscriber_id", "status", "activation_date", "status_date", "plan")
	eachRow(at, func(rec arrow.RecordBatch, i int) {
		col := func(name string) arrow.Array { return rec.Column(rec.Schema().FieldIndices(name)[0]) }
		d := func(name string) time.Time { return col(name).(*array.Date32).Value(i).ToTime() }
		s := func(name string) string { return col(name).(interface{ Value(int) string }).Value(i) }
		id := s("subscriber_id")
		if r, ok := newest[id]; !ok || d("export_date").After(r.export) {
			newest[id] = row{export: d("export_date"), state: s("status"), activation: d("activation_date"),
				status: d("status_date"), plan: s("plan")}
		}
		if d("export_date").After(end) {
			end = d("export_date")
		}
	})
	if rep.DataEnd != end.Format("2006-01-02") {
		t.Errorf("data end %s, want %s", rep.DataEnd, end.Format("2006-01-02"))
	}
	byPlan := map[string][]insight.Obs{}
	for _, r := range newest {
		stop, ev := r.export, false
		if r.state == "deactivated" {
			stop, ev = r.status, true
		}
		byPlan[r.plan] = append(byPlan[r.plan], insight.Obs{Time: stop.Sub(r.activation).Hours() / 24 / insight.DaysPerMonth, Event: ev})
	}
	var plans *insight.SurvivalBy
	for i := range rep.Survival {
		if rep.Survival[i].By == "plan" {
			plans = &rep.Survival[i]
		}
	}
	if plans == nil || len(plans.Groups) == 0 {
		t.Fatalf("no survival by plan in %+v", rep.Survival)
	}
	total := 0
	for _, g := range plans.Groups {
		total += g.N
		obs := byPlan[g.Group]
		if g.Group == "(other)" {
			continue
		}
		c, err := insight.KaplanMeier(obs)
		if err != nil {
			t.Fatal(err)
		}
		if g.N != c.N || g.Events != c.Events {
			t.Errorf("plan %s: %d customers %d left, want %d %d", g.Group, g.N, g.Events, c.N, c.Events)
		}
		for _, m := range []int{6, 12, 24} {
			p, ok := c.At(float64(m))
			if !ok || m >= len(g.Curve) {
				continue
			}
			if math.Abs(g.Curve[m].Surv-p.Surv) > 1e-4 || g.Curve[m].Time != float64(m) {
				t.Errorf("plan %s: S(%d) = %v, want %v", g.Group, m, g.Curve[m].Surv, p.Surv)
			}
		}
	}
	if total != len(newest) {
		t.Errorf("survival by plan covers %d subscribers, want %d", total, len(newest))
	}
	if plans.LogRank == nil {
		t.Error("no log-rank test between plans")
	}

	// Transitions: every row of the earlier month goes somewhere.
	if len(rep.Transitions) == 0 {
		t.Fatal("no transition matrices")
	}
	for _, m := range rep.Transitions {
		for i, r := range m.Rows {
			var sum float64
			n := 0
			for j := range m.Cols {
				sum += m.Shares[i][j]
				n += m.Counts[i][j]
			}
			if n > 0 && math.Abs(sum-1) > 1e-3 {
				t.Errorf("%s→%s row %s shares sum to %v", m.From, m.To, r, sum)
			}
		}
	}

	// The newest matrix against a brute-force count over crm.features.
	stage := func(status string, tenure int32) string {
		switch {
		case status == "suspended":
			return "suspended"
		case tenure < 3:
			return "new"
		case tenure < 24:
			return "established"
		}
		return "loyal"
	}
	last := rep.Transitions[len(rep.Transitions)-1]
	rows := map[string]map[string]string{} // month → id → stage
	ft := readTable(t, l, lake.FeaturesTable, "month", "subscriber_id", "status", "tenure_months")
	eachRow(ft, func(rec arrow.RecordBatch, i int) {
		col := func(name string) arrow.Array { return rec.Column(rec.Schema().FieldIndices(name)[0]) }
		m := col("month").(*array.Date32).Value(i).ToTime().Format("2006-01")
		if m != last.From && m != last.To {
			return
		}
		if rows[m] == nil {
			rows[m] = map[string]string{}
		}
		rows[m][col("subscriber_id").(interface{ Value(int) string }).Value(i)] = stage(
			col("status").(interface{ Value(int) string }).Value(i), col("tenure_months").(*array.Int32).Value(i))
	})
	want := map[[2]string]int{}
	toEnd, _ := time.Parse("2006-01", last.To)
	toEnd = toEnd.AddDate(0, 1, -1)
	for id, from := range rows[last.From] {
		to, ok := rows[last.To][id]
		if !ok {
			to = "unknown"
			if r, ok := newest[id]; ok && r.state == "deactivated" && !r.status.After(toEnd) {
				to = "lost"
			}
		}
		want[[2]string{from, to}]++
	}
	for id, to := range rows[last.To] {
		if _, ok := rows[last.From][id]; !ok {
			want[[2]string{"joined", to}]++
		}
	}
	for i, from := range last.Rows {
		for j, to := range last.Cols {
			if got := last.Counts[i][j]; got != want[[2]string{from, to}] {
				t.Errorf("%s→%s %s → %s: %d, want %d", last.From, last.To, from, to, got, want[[2]string{from, to}])
			}
		}
	}

	// Causes: the top decile of the run's scored customers.
	for _, c := range rep.Causes {
		if c.AtRisk[0].Group != "all" {
			t.Fatalf("causes by %s: first group %s, want all", c.By, c.AtRisk[0].Group)
		}
		n := c.AtRisk[0].Customers
		if n < res.Scored/10 || n > res.Scored/10+res.Scored/50+1 {
			t.Errorf("causes by %s: %d at risk of %d scored, want about 10%%", c.By, n, res.Scored)
		}
		for _, cg := range c.AtRisk[0].Reasons {
			if cg.Reason != "(none)" && cg.Reason != insight.CauseOf(cg.Reason) {
				t.Errorf("cause %q still carries a value", cg.Reason)
			}
		}
	}

	// Tracking: this run, not yet complete (its window ends after the data).
	if len(rep.Tracking.Runs) != 1 {
		t.Fatalf("%d tracked runs, want 1", len(rep.Tracking.Runs))
	}
	tr := rep.Tracking.Runs[0]
	if tr.Run != meta.Run || tr.Customers != res.Scored || tr.Complete {
		t.Errorf("tracked run %s: %d customers complete %v, want %s %d false", tr.Run, tr.Customers, tr.Complete, meta.Run, res.Scored)
	}
	if len(rep.Tracking.Drift) == 0 || rep.Tracking.Moderate != 0.1 || rep.Tracking.Significant != 0.25 {
		t.Errorf("drift %d rows, thresholds %v %v", len(rep.Tracking.Drift), rep.Tracking.Moderate, rep.Tracking.Significant)
	}
	if len(rep.ValueCurve) == 0 {
		t.Error("no value by tenure")
	}

	// crm.model_tracking holds the same rows.
	kinds := map[string]int{}
	mt := readTable(t, l, lake.ModelTrackingTable, "computed_run", "kind")
	eachRow(mt, func(rec arrow.RecordBatch, i int) {
		col := func(name string) string {
			return rec.Column(rec.Schema().FieldIndices(name)[0]).(interface{ Value(int) string }).Value(i)
		}
		if col("computed_run") == meta.Run {
			kinds[col("kind")]++
		}
	})
	if kinds["run"] != 1 || kinds["decile"] != len(tr.Deciles) || kinds["drift"] != len(rep.Tracking.Drift) {
		t.Errorf("crm.model_tracking rows %v, want 1 run, %d deciles, %d drift", kinds, len(tr.Deciles), len(rep.Tracking.Drift))
	}
}
