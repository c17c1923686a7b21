package campaign

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"
)

func TestControlSize(t *testing.T) {
	tests := []struct {
		n     int
		share float64
		want  int
	}{
		{1000, 0.2, 200}, {1001, 0.2, 200}, {1003, 0.2, 201}, // 200.6 rounds up
		{10, 0.25, 3}, // 2.5: halves away from zero
		{2, 0.05, 1},  // at least one control
		{3, 0.5, 2},   // 1.5 → 2, leaving one treated
	}
	for _, tc := range tests {
		if got := ControlSize(tc.n, tc.share); got != tc.want {
			t.Errorf("ControlSize(%d, %v) = %d, want %d", tc.n, tc.share, got, tc.want)
		}
	}
}

// TestDrawSeededReproducibleShare: the control draw is of the asked share
// (rounded as ControlSize says), the same for the same seed, different for
// another one, and uniform: every rank is control about share of the time.
func TestDrawSeededReproducibleShare(t *testing.T) {
	for _, tc := range []struct {
		n     int
		share float64
	}{{1000, 0.2}, {777, 0.1}, {50, 0.5}, {12345, 0.15}} {
		t.Run(fmt.Sprintf("%d×%v", tc.n, tc.share), func(t *testing.T) {
			a := Draw(tc.n, tc.share, Seed("cmp-1"))
			if got, want := count(a), ControlSize(tc.n, tc.share); got != want {
				t.Errorf("control = %d, want %d", got, want)
			}
			if b := Draw(tc.n, tc.share, Seed("cmp-1")); !slices.Equal(a, b) {
				t.Error("the same seed drew another control group")
			}
			if c := Draw(tc.n, tc.share, Seed("cmp-2")); slices.Equal(a, c) {
				t.Error("another campaign id drew the same control group")
			}
		})
	}
	// Uniform over ranks: the top half holds about half the control.
	const n, share, reps = 200, 0.2, 400
	top := 0
	for i := 0; i < reps; i++ {
		d := Draw(n, share, Seed(fmt.Sprint("cmp-u", i)))
		top += count(d[:n/2])
	}
	got := float64(top) / (reps * n * share)
	if math.Abs(got-0.5) > 0.02 { // sd ≈ 0.004
		t.Errorf("top half holds %.3f of the control, want 0.5", got)
	}
}

func count(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

func TestFreeze(t *testing.T) {
	cands := make([]Contact, 500)
	for i := range cands {
		cands[i] = Contact{SubscriberID: fmt.Sprintf("S%04d", i), Probability: 0.9 - float64(i)/1000}
	}
	s := Spec{Name: "Winter", Offer: "discount-10", Channel: ChannelCall, CostPerContact: 2, Size: 400, ControlShare: 0.2, List: "value-at-risk"}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	c, cs, err := Freeze("cmp-x", s, "run1", now, "analyst", cands)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 400 || c.Control != 80 || c.Treated != 320 || c.Seed != Seed("cmp-x") {
		t.Errorf("Freeze: %d contacts, %d control, %d treated, seed %d; want 400, 80, 320, %d", len(cs), c.Control, c.Treated, c.Seed, Seed("cmp-x"))
	}
	d := Draw(400, 0.2, Seed("cmp-x"))
	for i, ct := range cs {
		if ct.Rank != i+1 || ct.SubscriberID != cands[i].SubscriberID || (ct.Arm == ArmControl) != d[i] {
			t.Fatalf("contact %d = %+v; want rank %d, %s, control %v", i, ct, i+1, cands[i].SubscriberID, d[i])
		}
	}
	if c.HorizonDays != DefaultHorizon || !c.HorizonEnd().Equal(now.AddDate(0, 0, DefaultHorizon)) {
		t.Errorf("horizon %d days ending %s", c.HorizonDays, c.HorizonEnd())
	}
	// A control seed given draws the same arms under two ids.
	s.ControlSeed = 42
	a, as, _ := Freeze("cmp-20261201-aaaa", s, "run1", now, "analyst", cands)
	b, bs, _ := Freeze("cmp-20270105-bbbb", s, "run1", now, "analyst", cands)
	d = Draw(400, 0.2, 42)
	for i := range as {
		if as[i].Arm != bs[i].Arm || (as[i].Arm == ArmControl) != d[i] {
			t.Fatalf("contact %d: arms %s and %s under one control seed; the draw says control %v", i, as[i].Arm, bs[i].Arm, d[i])
		}
	}
	if a.Seed != 42 || b.Seed != 42 {
		t.Errorf("seeds %d and %d, want the control seed 42", a.Seed, b.Seed)
	}
}

// TestPower: the two-cell test's power by hand — 30% against 20% churn
// with 300 a side: SE = √(0.21/300 + 0.16/300) = 0.035119, |d|/SE =
// 2.8475, power Φ(0.8875) + Φ(−4.8075) = 0.8126.
func TestPower(t *testing.T) {
	for _, tc := range []struct {
		pc, pt float64
		nc, nt int
		want   float64
	}{
		{0.3, 0.2, 300, 300, 0.8126},
		{0.2, 0.3, 300, 300, 0.8126}, // two-sided
		{0.1, 0.1, 500, 500, 0.05},   // no effect: the test's size
		{0, 0, 500, 500, 0.05},
		{0.5, 0.1, 5000, 5000, 1},
	} {
		if got := Power(tc.pc, tc.pt, tc.nc, tc.nt); math.Abs(got-tc.want) > 5e-5 {
			t.Errorf("Power(%v, %v, %d, %d) = %.5f, want %.4f", tc.pc, tc.pt, tc.nc, tc.nt, got, tc.want)
		}
	}
	if !math.IsNaN(Power(0.3, 0.2, 0, 10)) {
		t.Error("Power without control customers is not NaN")
	}
}

func TestSpecValidate(t *testing.T) {
	ok := Spec{Name: "n", Offer: "o", Channel: ChannelSMS, CostPerContact: 0.05, Size: 100, ControlShare: 0.1, List: "churn-risk"}
	tests := []struct {
		field string
		edit  func(*Spec)
	}{
		{"name", func(s *Spec) { s.Name = " " }},
		{"offer", func(s *Spec) { s.Offer = "Ten Percent" }},
		{"channel", func(s *Spec) { s.Channel = "fax" }},
		{"cost_per_contact", func(s *Spec) { s.CostPerContact = -1 }},
		{"cost_per_contact", func(s *Spec) { s.CostPerContact = math.NaN() }},
		{"size", func(s *Spec) { s.Size = 1 }},
		{"size", func(s *Spec) { s.Size = MaxSize + 1 }},
		{"control_share", func(s *Spec) { s.ControlShare = 0.6 }},
		{"control_share", func(s *Spec) { s.ControlShare = 0.01 }},
		{"list", func(s *Spec) { s.List = "" }},
		{"group", func(s *Spec) { s.Group = "g1" }},
		{"list", func(s *Spec) { s.List = "../x" }},
		{"horizon_days", func(s *Spec) { s.HorizonDays = 3 }},
		{"control_seed", func(s *Spec) { s.ControlSeed = MaxControlSeed + 1 }},
	}
	if s := ok; s.Validate() != nil {
		t.Fatalf("valid spec refused: %v", s.Validate())
	}
	for _, tc := range tests {
		s := ok
		tc.edit(&s)
		err := s.Validate()
		fe, isField := err.(*FieldError)
		if !isField || fe.Field != tc.field {
			t.Errorf("%s: Validate = %v, want a FieldError on %s", tc.field, err, tc.field)
		}
	}
}

// TestDiffIntervalNewcombe: Newcombe (1998), Table II, example (a):
// 56/70 − 48/80 = 0.2000, method 10 interval 0.0524 to 0.3339.
func TestDiffIntervalNewcombe(t *testing.T) {
	iv := DiffInterval(56, 70, 48, 80)
	for _, c := range []struct{ got, want float64 }{{iv.Estimate, 0.2}, {iv.Lo, 0.0524}, {iv.Hi, 0.3339}} {
		if math.Abs(c.got-c.want) > 0.00005 {
			t.Errorf("DiffInterval(56/70, 48/80) = %+v, want 0.2000 (0.0524, 0.3339)", iv)
		}
	}
}

// TestMeasureHandComputed: a hand-made campaign of 1,000 customers, 300 of
// them control with 60 churned, 700 treated with 84 churned, each CLV 500;
// 500 treated attempted (100 of them twice), 400 reached, 100 accepted, at
// 2.50 a contact. By hand (Wilson intervals with z = 1.959964, Newcombe's
// method 10):
//
//	control churn 60/300 = 0.2000 (0.15866, 0.24893)
//	treated churn 84/700 = 0.1200 (0.09798, 0.14617)
//	uplift = 0.2 − 0.12 = 0.0800,
//	  lo = 0.08 − √((0.2−0.15866)² + (0.14617−0.12)²) = 0.031070
//	  hi = 0.08 + √((0.24893−0.2)² + (0.12−0.09798)²) = 0.133657
//	retained = 0.08 × 700 = 56 (21.749, 93.560)
//	retained CLV = 0.08 × 350,000 = 28,000; cost = 600 × 2.50 = 1,500
//	ROI = (28,000 − 1,500) / 1,500 = 17.667
func TestMeasureHandComputed(t *testing.T) {
	c := Campaign{ID: "cmp-hand", Spec: Spec{Channel: ChannelCall, Offer: "discount-10", CostPerContact: 2.5, HorizonDays: 60},
		CreatedAt: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)}
	var contacts []Contact
	churned := map[string]bool{}
	var resp []Response
	at := c.CreatedAt.Add(48 * time.Hour)
	for i := 0; i < 1000; i++ {
		id := fmt.Sprintf("S%04d", i)
		ct := Contact{SubscriberID: id, Arm: ArmTreated, CLV: 500}
		if i < 300 {
			ct.Arm = ArmControl
			churned[id] = i < 60
		} else {
			j := i - 300 // 0..699
			churned[id] = j < 84
			switch {
			case j < 100:
				resp = append(resp, Response{id, at, OutcomeUnreachable}, Response{id, at, OutcomeAccepted})
			case j < 400:
				resp = append(resp, Response{id, at, OutcomeDeclined})
			case j < 500:
				resp = append(resp, Response{id, at, OutcomeUnreachable})
			}
		}
		contacts = append(contacts, ct)
	}
	resp = append(resp, Response{"S0001", at, OutcomeAccepted}, Response{"S9999", at, OutcomeAccepted}) // control, unknown
	r := Measure(c, contacts, resp, func(id string) bool { return churned[id] }, c.CreatedAt.AddDate(0, 0, 61))
	ints := []struct {
		name      string
		got, want int
	}{
		{"treated", r.Treated, 700}, {"control", r.Control, 300}, {"attempted", r.Attempted, 500}, {"attempts", r.Attempts, 600},
		{"reached", r.Reached, 400}, {"accepted", r.Accepted, 100}, {"unmatched", r.Unmatched, 2},
		{"treated churned", r.TreatedChurned, 84}, {"control churned", r.ControlChurned, 60},
	}
	for _, c := range ints {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if r.ROI == nil {
		t.Fatal("ROI is null")
	}
	floats := []struct {
		name      string
		got, want float64
		tol       float64
	}{
		{"contact rate", r.ContactRate, 400.0 / 700, 1e-12}, {"acceptance rate", r.AcceptanceRate, 0.25, 1e-12},
		{"control churn", r.ControlChurn.Estimate, 0.2, 1e-12}, {"control churn lo", r.ControlChurn.Lo, 0.158657, 1e-6},
		{"control churn hi", r.ControlChurn.Hi, 0.248929, 1e-6},
		{"treated churn", r.TreatedChurn.Estimate, 0.12, 1e-12}, {"treated churn lo", r.TreatedChurn.Lo, 0.097977, 1e-6},
		{"treated churn hi", r.TreatedChurn.Hi, 0.146171, 1e-6},
		{"uplift", r.Uplift.Estimate, 0.08, 1e-12}, {"uplift lo", r.Uplift.Lo, 0.031070, 1e-6}, {"uplift hi", r.Uplift.Hi, 0.133657, 1e-6},
		{"retained", r.Retained.Estimate, 56, 1e-9}, {"retained lo", r.Retained.Lo, 21.749, 1e-3}, {"retained hi", r.Retained.Hi, 93.560, 1e-3},
		{"retained clv", r.RetainedCLV.Estimate, 28000, 1e-6}, {"cost", r.Cost, 1500, 1e-9},
		{"roi", r.ROI.Estimate, 26500.0 / 1500, 1e-9},
	}
	for _, c := range floats {
		if math.Abs(c.got-c.want) > c.tol {
			t.Errorf("%s = %.6f, want %.6f", c.name, c.got, c.want)
		}
	}
	if !r.Complete {
		t.Error("horizon passed, results not complete")
	}
	if r2 := Measure(c, contacts, resp, func(string) bool { return false }, c.CreatedAt.AddDate(0, 0, 10)); r2.Complete {
		t.Error("horizon open, results complete")
	}
}
