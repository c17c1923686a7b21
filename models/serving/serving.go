// Package serving defines the serving snapshot: what one scoring run hands
// the API. A run writes one compact Parquet file of customers (one row per
// scored or recently lost customer, sorted by subscriber id) and a JSON
// document of metadata, segments and named lists, then moves the pointer
// serving/latest.json to it. The API loads the snapshot at cold start and
// answers from memory.
package serving

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// Customer is one row of the snapshot. Personal data (Name, MSISDN,
// BirthYear) is here for the roles allowed to see it; the API masks it for
// the others.
type Customer struct {
	SubscriberID   string `parquet:"subscriber_id" json:"subscriber_id"`
	MSISDN         string `parquet:"msisdn" json:"msisdn"`
	Name           string `parquet:"name,optional" json:"name"`
	Gender         string `parquet:"gender" json:"gender"`
	AgeBand        string `parquet:"age_band,optional" json:"age_band"`
	Region         string `parquet:"region,optional" json:"region"`
	Plan           string `parquet:"plan" json:"plan"`
	PaymentMethod  string `parquet:"payment_method,optional" json:"payment_method"`
	Status         string `parquet:"status" json:"status"` // active, suspended, deactivated
	Lifecycle      string `parquet:"lifecycle" json:"lifecycle"`
	ActivationDate string `parquet:"activation_date" json:"activation_date"` // YYYY-MM-DD
	StatusDate     string `parquet:"status_date" json:"status_date"`
	TenureMonths   int32  `parquet:"tenure_months" json:"tenure_months"`

	// Scores; for deactivated customers (win-back) Probability is 0 and
	// Reasons empty.
	Probability float64  `parquet:"churn_probability" json:"churn_probability"`
	Reasons     []string `parquet:"reasons,list" json:"reasons"`
	SegmentID   int32    `parquet:"segment_id" json:"segment_id"`
	SegmentName string   `parquet:"segment_name" json:"segment_name"`
	// MonthlyValue is the mean bill of the last three months; CLV and
	// ValueAtRisk follow the formula in Meta.Value.
	MonthlyValue float64 `parquet:"monthly_value" json:"monthly_value"`
	CLV          float64 `parquet:"clv" json:"clv"`
	ValueAtRisk  float64 `parquet:"value_at_risk" json:"value_at_risk"`

	// The feature month's figures the filters use.
	VoiceMinutes    float64 `parquet:"voice_minutes" json:"voice_minutes"`
	VoiceCalls      int32   `parquet:"voice_calls" json:"voice_calls"`
	SMS             int32   `parquet:"sms" json:"sms"`
	DataMB          float64 `parquet:"data_mb" json:"data_mb"`
	RoamingCalls    int32   `parquet:"roaming_calls" json:"roaming_calls"`
	IntlCalls       int32   `parquet:"intl_calls" json:"intl_calls"`
	CareCalls       int32   `parquet:"care_calls" json:"care_calls"`
	DistinctContact int32   `parquet:"distinct_contacts" json:"distinct_contacts"`
	AmountDue       float64 `parquet:"amount_due" json:"amount_due"`
	Arrears         float64 `parquet:"arrears" json:"arrears"`
	MonthsInArrears int32   `parquet:"months_in_arrears" json:"months_in_arrears"`

	// History is up to the last six feature months, oldest first.
	History []Month `parquet:"history,list" json:"history"`
}

// Month is one month of a customer's usage and bill.
type Month struct {
	Month        string  `parquet:"month" json:"month"` // YYYY-MM
	VoiceMinutes float64 `parquet:"voice_minutes" json:"voice_minutes"`
	VoiceCalls   int32   `parquet:"voice_calls" json:"voice_calls"`
	SMS          int32   `parquet:"sms" json:"sms"`
	DataMB       float64 `parquet:"data_mb" json:"data_mb"`
	CareCalls    int32   `parquet:"care_calls" json:"care_calls"`
	AmountDue    float64 `parquet:"amount_due" json:"amount_due"`
	AmountPaid   float64 `parquet:"amount_paid" json:"amount_paid"`
	Arrears      float64 `parquet:"arrears" json:"arrears"`
}

// Meta describes a run.
type Meta struct {
	Run          string     `json:"run"`
	ScoredAt     time.Time  `json:"scored_at"`
	FeatureMonth string     `json:"feature_month"`
	ChurnModel   string     `json:"churn_model"`
	SegmentModel string     `json:"segment_model"`
	Customers    int        `json:"customers"`
	Value        ValueModel `json:"value_model"`
	Segments     []Segment  `json:"segments"`
	Lists        []List     `json:"lists"`
}

// ValueModel holds the parameters of the lifetime value formula:
//
//	CLV = MonthlyValue × Margin × Σ_{t=1..Horizon} (1−p_m)^t / (1+d)^t
//
// with p_m the monthly churn hazard implied by the churn probability over
// the label horizon (1 − (1−p)^(1/HorizonMonths)) and d the monthly
// discount rate. ValueAtRisk = Probability × CLV.
type ValueModel struct {
	Margin             float64 `json:"margin"`
	AnnualDiscountRate float64 `json:"annual_discount_rate"`
	HorizonMonths      int     `json:"horizon_months"`       // months summed
	LabelHorizonMonths int     `json:"label_horizon_months"` // the churn label's N
}

// Segment is a segment as the API shows it.
type Segment struct {
	ID            int32   `json:"id"`
	Name          string  `json:"name"`
	Profile       string  `json:"profile"`
	Customers     int     `json:"customers"`
	Share         float64 `json:"share"`
	ChurnRate     float64 `json:"observed_churn_rate"`    // in the training month
	MeanPredicted float64 `json:"mean_churn_probability"` // this run
	MeanValue     float64 `json:"mean_monthly_value"`
}

// List is a named, ranked list computed at scoring time.
type List struct {
	Name        string   `json:"name"` // e.g. churn-risk, value-at-risk, win-back-candidates, segment-3
	Title       string   `json:"title"`
	Description string   `json:"description"`
	IDs         []string `json:"subscriber_ids"` // ranked, best first
}

// Store reads and writes whole files by key.
type Store interface {
	Put(ctx context.Context, key string, body []byte) error
	Get(ctx context.Context, key string) ([]byte, error)
}

// Pointer is serving/latest.json.
type Pointer struct {
	Run       string `json:"run"`
	Customers string `json:"customers"` // key of the Parquet file
	Meta      string `json:"meta"`      // key of the JSON document
}

// LatestKey is the pointer's key.
const LatestKey = "latest.json"

// Write stores a run's snapshot and then points latest.json at it.
// customers must be sorted by SubscriberID.
func Write(ctx context.Context, st Store, meta *Meta, customers []Customer) (Pointer, error) {
	for i := 1; i < len(customers); i++ {
		if customers[i-1].SubscriberID >= customers[i].SubscriberID {
			return Pointer{}, fmt.Errorf("serving: customers not sorted by id at %d (%s, %s)", i, customers[i-1].SubscriberID, customers[i].SubscriberID)
		}
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[Customer](&buf, parquet.Compression(&zstd.Codec{}), parquet.MaxRowsPerRowGroup(128*1024))
	if _, err := w.Write(customers); err != nil {
		return Pointer{}, fmt.Errorf("serving: encode customers: %w", err)
	}
	if err := w.Close(); err != nil {
		return Pointer{}, fmt.Errorf("serving: encode customers: %w", err)
	}
	mb, err := json.Marshal(meta)
	if err != nil {
		return Pointer{}, fmt.Errorf("serving: encode meta: %w", err)
	}
	p := Pointer{Run: meta.Run, Customers: path.Join("runs", meta.Run, "customers.parquet"), Meta: path.Join("runs", meta.Run, "meta.json")}
	if err := st.Put(ctx, p.Customers, buf.Bytes()); err != nil {
		return Pointer{}, fmt.Errorf("serving: %w", err)
	}
	if err := st.Put(ctx, p.Meta, mb); err != nil {
		return Pointer{}, fmt.Errorf("serving: %w", err)
	}
	pb, _ := json.Marshal(p)
	if err := st.Put(ctx, LatestKey, pb); err != nil {
		return Pointer{}, fmt.Errorf("serving: %w", err)
	}
	return p, nil
}

// ErrNoSnapshot means no scoring run has written a snapshot yet.
var ErrNoSnapshot = errors.New("serving: no snapshot yet (run the score function)")

// Latest reads the pointer to the newest snapshot (ErrNoSnapshot when
// notFound says it is missing), to check for a new run cheaply.
func Latest(ctx context.Context, st Store, notFound func(error) bool) (Pointer, error) {
	var p Pointer
	pb, err := st.Get(ctx, LatestKey)
	if err != nil {
		if notFound != nil && notFound(err) {
			return p, ErrNoSnapshot
		}
		return p, fmt.Errorf("serving: read pointer: %w", err)
	}
	if err := json.Unmarshal(pb, &p); err != nil {
		return p, fmt.Errorf("serving: read pointer: %w", err)
	}
	return p, nil
}

// Read loads the latest snapshot. A store without one gives ErrNoSnapshot
// when notFound(err) says the pointer is missing.
func Read(ctx context.Context, st Store, notFound func(error) bool) (*Meta, []Customer, error) {
	pb, err := st.Get(ctx, LatestKey)
	if err != nil {
		if notFound != nil && notFound(err) {
			return nil, nil, ErrNoSnapshot
		}
		return nil, nil, fmt.Errorf("serving: read pointer: %w", err)
	}
	var p Pointer
	if err := json.Unmarshal(pb, &p); err != nil {
		return nil, nil, fmt.Errorf("serving: read pointer: %w", err)
	}
	mb, err := st.Get(ctx, p.Meta)
	if err != nil {
		return nil, nil, fmt.Errorf("serving: read meta of run %s: %w", p.Run, err)
	}
	meta := &Meta{}
	if err := json.Unmarshal(mb, meta); err != nil {
		return nil, nil, fmt.Errorf("serving: read meta of run %s: %w", p.Run, err)
	}
	cb, err := st.Get(ctx, p.Customers)
	if err != nil {
		return nil, nil, fmt.Errorf("serving: read customers of run %s: %w", p.Run, err)
	}
	customers, err := ReadCustomers(bytes.NewReader(cb), int64(len(cb)))
	if err != nil {
		return nil, nil, fmt.Errorf("serving: run %s: %w", p.Run, err)
	}
	return meta, customers, nil
}

// ReadCustomers decodes a customers Parquet file, a batch of rows at a
// time (decoding all rows in one call makes parquet-go hold every page's
// decoded values at once: several times the memory and the time).
func ReadCustomers(r io.ReaderAt, size int64) ([]Customer, error) {
	f, err := parquet.OpenFile(r, size)
	if err != nil {
		return nil, fmt.Errorf("open customers parquet: %w", err)
	}
	rd := parquet.NewGenericReader[Customer](f)
	defer rd.Close()
	out := make([]Customer, 0, f.NumRows())
	batch := make([]Customer, 1024)
	for {
		n, err := rd.Read(batch)
		out = append(out, batch[:n]...)
		clear(batch[:n]) // the next Read must not reuse this batch's slices
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("decode customers: %w", err)
		}
	}
}
