// Package serving defines the serving snapshot: what one scoring run hands
// the API, and the contract between the two (Columns). A run writes, for
// every scored or recently lost customer in subscriber id order,
//
//   - columns.bin: what filters, counts and sorts read, as fixed-width
//     arrays (uint16 dictionary codes; int32 counts, fixed-point measures
//     and money as cents) that the API loads in a few large reads and
//     uses in place;
//   - detail.bin: the rest of each customer (names, MSISDN, dates, reasons,
//     history), one record per customer, read by byte range on demand;
//   - meta.json: the run, segments and named lists;
//
// then moves the pointer serving/latest.json to them. Why this layout: the
// Parquet snapshot it replaces took 9.1 s and 1.3 GB of heap to decode over
// 1M customers at every cold start (BENCHMARKS.md has the figures of both).
//
// Customer keeps its parquet tags so that tools (the bench's DuckDB side)
// can write the same rows as Parquet for other engines; the API never
// reads Parquet.
package serving

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path"
	"strconv"
	"time"
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

	// Added for search on every attribute and the value system (optional
	// columns: a snapshot written before them reads them as zero or "").
	Occupation string  `parquet:"occupation,optional" json:"occupation"`
	Education  string  `parquet:"education,optional" json:"education"`
	IncomeBand string  `parquet:"income_band,optional" json:"income_band"`
	District   string  `parquet:"district,optional" json:"district"` // personal: part of the address
	Discount   float64 `parquet:"discount" json:"discount"`
	CreditUse  float64 `parquet:"credit_use" json:"credit_use"` // amount due / credit limit; 0 without a limit
	// Trends: the feature month against the mean of the three before, −1
	// to +∞; 0 without earlier months.
	VoiceMinutesTrend float64 `parquet:"voice_minutes_trend" json:"voice_minutes_trend"`
	CallsTrend        float64 `parquet:"calls_trend" json:"calls_trend"`
	DataTrend         float64 `parquet:"data_trend" json:"data_trend"`
	ContactsTrend     float64 `parquet:"contacts_trend" json:"contacts_trend"`
	SpendTrend        float64 `parquet:"spend_trend" json:"spend_trend"`
	// CostToServe and Profit are monthly (Meta.Value.Costs); ValueTier
	// ranks CLV among the run's scored customers (Tiers).
	CostToServe float64 `parquet:"cost_to_serve" json:"cost_to_serve"`
	Profit      float64 `parquet:"profit" json:"profit"`
	ValueTier   string  `parquet:"value_tier" json:"value_tier"`
	// Who to contact (Meta.Uplift; zero without a promoted uplift model):
	// Uplift is the expected incremental retention (the drop in churn
	// probability) a contact with BestOffer brings, ContactValue
	// Uplift × CLV − the offer's cost per contact, the best over the
	// offers; OfferUplift the uplift under each of Meta.Uplift.Offers.
	Uplift       float64            `parquet:"uplift" json:"uplift"`
	ContactValue float64            `parquet:"contact_value" json:"contact_value"`
	BestOffer    string             `parquet:"best_offer" json:"best_offer"`
	OfferUplift  [MaxOffers]float64 `parquet:"-" json:"offer_uplift"`

	// BadDebtProbability is the chance of 2+ consecutive bills in
	// arrears within the bad-debt model's horizon (Meta.BadDebtModel); 0
	// without that model and for lost customers. BadDebtReasons say why,
	// in words (detail).
	BadDebtProbability float64  `parquet:"bad_debt_probability" json:"bad_debt_probability"`
	BadDebtReasons     []string `parquet:"bad_debt_reasons,list" json:"bad_debt_reasons"`

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
	Run          string    `json:"run"`
	ScoredAt     time.Time `json:"scored_at"`
	FeatureMonth string    `json:"feature_month"`
	ChurnModel   string    `json:"churn_model"`
	SegmentModel string    `json:"segment_model"`
	// BadDebtModel is the bad-debt model's version, "" when none was
	// promoted (then every bad_debt_probability is 0);
	// BadDebtHorizonMonths its label's horizon.
	BadDebtModel         string     `json:"bad_debt_model,omitempty"`
	BadDebtHorizonMonths int        `json:"bad_debt_horizon_months,omitempty"`
	Customers            int        `json:"customers"`
	Value                ValueModel `json:"value_model"`
	// TierMigration compares this run's value tiers with those of the
	// newest earlier run of the previous feature month; nil without one.
	TierMigration *TierMigration `json:"tier_migration,omitempty"`
	Segments      []Segment      `json:"segments"`
	Lists         []List         `json:"lists"`
	// Insight is the run's lifecycle, churn causes and score tracking
	// report (insight.Report as JSON, aggregates only); empty when the run
	// could not build it.
	Insight json.RawMessage `json:"insight,omitempty"`
	// Uplift describes the uplift model the run scored with; nil without
	// a promoted one.
	Uplift *UpliftMeta `json:"uplift,omitempty"`
}

// MaxOffers is how many offers a run scores each customer for (the
// offer_uplift_<k> columns); further offers are left out (UpliftMeta.Dropped).
const MaxOffers = 4

// UpliftMeta is the uplift model of a run and the offers it scored.
type UpliftMeta struct {
	Model  string `json:"model"` // version
	Method string `json:"method"`
	// Offers are the offers past campaigns tried, at most MaxOffers:
	// offer k's uplift is column offer_uplift_<k+1>.
	Offers  []OfferInfo `json:"offers"`
	Dropped []string    `json:"dropped_offers,omitempty"`
}

// OfferInfo is one offer a run scored.
type OfferInfo struct {
	Offer   string  `json:"offer"`
	Cost    float64 `json:"cost_per_contact"`
	Channel string  `json:"channel"` // of its newest campaign
	// Model is "own" when the offer has its own uplift model, otherwise
	// what stands in (the pooled model).
	Model string `json:"model"`
}

// ValueModel holds the parameters of the value system:
//
//	Profit = revenue − cost to serve (CostModel), per month
//	CLV    = Profit × Σ_{t=1..Horizon} (1−p_m)^t / (1+d)^t
//
// with p_m the monthly churn hazard implied by the churn probability over
// the label horizon (1 − (1−p)^(1/HorizonMonths)) and d the monthly
// discount rate. ValueAtRisk = Probability × CLV. Value tiers rank CLV
// (Tiers).
type ValueModel struct {
	Costs              CostModel `json:"costs"`
	AnnualDiscountRate float64   `json:"annual_discount_rate"`
	HorizonMonths      int       `json:"horizon_months"`       // months summed
	LabelHorizonMonths int       `json:"label_horizon_months"` // the churn label's N
}

// CostModel holds the rates of a customer's monthly cost to serve, in
// currency units:
//
//	gross revenue = monthly value (mean bill, net of discount) + discount
//	cost to serve = NetworkShare × gross revenue
//	              + OffnetPerMinute × voice minutes × off-net share
//	              + IntlPerMinute × international calls × mean call length
//	              + CarePerCall × calls to customer care
//	              + the discount
//	              + BadDebtRate × max(arrears, expected arrears)
//
// where expected arrears = bad-debt probability × 2 × monthly value (the
// two unpaid bills the bad-debt label means), 0 without a bad-debt model.
//
// Off-net minutes are estimated from the share of outgoing calls to other
// networks (the features hold no off-net minutes); international minutes
// from the international calls and the mean call length.
type CostModel struct {
	// NetworkShare is the share of gross revenue the own network,
	// billing and overhead cost (default 0.25).
	NetworkShare float64 `json:"network_share"`
	// OffnetPerMinute is the interconnect (termination) paid per voice
	// minute to another network (default 0.015).
	OffnetPerMinute float64 `json:"offnet_per_minute"`
	// IntlPerMinute is the international carrier's rate per minute
	// (default 0.12).
	IntlPerMinute float64 `json:"intl_per_minute"`
	// CarePerCall is the cost of one call to customer care (default 2.50).
	CarePerCall float64 `json:"care_per_call"`
	// BadDebtRate is the share of outstanding arrears expected to be
	// written off per month (default 0.05).
	BadDebtRate float64 `json:"bad_debt_rate"`
}

// DefaultCosts are the rates a run uses unless told otherwise.
var DefaultCosts = CostModel{NetworkShare: 0.25, OffnetPerMinute: 0.015, IntlPerMinute: 0.12, CarePerCall: 2.50, BadDebtRate: 0.05}

// Validate checks every rate: finite, not negative, shares at most 1,
// per-unit rates at most 1000.
func (m CostModel) Validate() error {
	for _, r := range []struct {
		name string
		v    float64
		max  float64
	}{{"network_share", m.NetworkShare, 1}, {"offnet_per_minute", m.OffnetPerMinute, 1000}, {"intl_per_minute", m.IntlPerMinute, 1000},
		{"care_per_call", m.CarePerCall, 1000}, {"bad_debt_rate", m.BadDebtRate, 1}} {
		if math.IsNaN(r.v) || r.v < 0 || r.v > r.max {
			return fmt.Errorf("serving: cost model: %s is %v, want 0 to %v", r.name, r.v, r.max)
		}
	}
	return nil
}

// TierMigration counts the customers of two consecutive runs by their
// tier in each: From[i] → To[j] is Counts[i][j], tiers in Tiers order
// ("none": not in that run, or not ranked).
type TierMigration struct {
	FromRun   string    `json:"from_run"`
	FromMonth string    `json:"from_month"`
	Tiers     []string  `json:"tiers"`
	Counts    [][]int64 `json:"counts"` // [from tier][to tier]
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

// Getter reads a whole file by key.
type Getter interface {
	Get(ctx context.Context, key string) ([]byte, error)
}

// Store reads and writes whole files by key; the score function writes
// snapshots through it.
type Store interface {
	Put(ctx context.Context, key string, body []byte) error
	Getter
}

// Source is what reading a snapshot needs: whole small files (the pointer,
// meta.json) and byte ranges of the large ones.
type Source interface {
	Getter
	RangeReader
}

// detailGuess is the bytes a detail record usually takes (six months of
// history, two or three reasons), to size the buffer once.
const detailGuess = 320

// FormatColumns is the snapshot format of columns.bin + detail.bin: 2
// held float64 measures and int64 cents; 3 moved the segment name, best
// offer and offer uplifts to detail.bin; 4 holds every number in 4 bytes
// (Fixed, Cents as int32).
const FormatColumns = 4

// Pointer is serving/latest.json.
type Pointer struct {
	Format       int    `json:"format"` // FormatColumns; 0: the former Parquet snapshot
	Run          string `json:"run"`
	Columns      string `json:"columns"`       // key of columns.bin
	ColumnsBytes int64  `json:"columns_bytes"` // its size
	Detail       string `json:"detail"`        // key of detail.bin
	DetailBytes  int64  `json:"detail_bytes"`
	Meta         string `json:"meta"` // key of meta.json
	// Shards, when the run was written split into shards (WriteSharded),
	// are the files of each: Shards[k] holds the customers with
	// ShardOf(id, len(Shards)) == k. Columns and Detail are then empty: a
	// sharded run is read shard by shard (OpenShard).
	Shards []ShardFiles `json:"shards,omitempty"`
}

// ShardFiles are one shard's columns.bin and detail.bin.
type ShardFiles struct {
	Columns      string `json:"columns"`
	ColumnsBytes int64  `json:"columns_bytes"`
	Detail       string `json:"detail"`
	DetailBytes  int64  `json:"detail_bytes"`
}

// LatestKey is the pointer's key.
const LatestKey = "latest.json"

// Files is an encoded snapshot.
type Files struct {
	Columns, Detail, Meta []byte
}

// Encode builds a run's files. customers must be sorted by SubscriberID,
// ids valid (ValidID) and numbers finite; money is stored in whole cents
// (rounded to the nearest).
func Encode(meta *Meta, customers []Customer) (*Files, error) {
	if meta == nil {
		return nil, errors.New("serving: no meta")
	}
	if err := sortedIDs(customers); err != nil {
		return nil, err
	}
	det := make([]byte, 0, detailHeader+len(customers)*detailGuess)
	det = append(det, detailMagic...)
	ends := make([]uint64, len(customers))
	for i := range customers {
		var err error
		if det, err = appendDetail(det, &customers[i]); err != nil {
			return nil, fmt.Errorf("serving: %w", err)
		}
		ends[i] = uint64(len(det))
	}
	cols, err := encodeColumns(customers, ends)
	if err != nil {
		return nil, fmt.Errorf("serving: %w", err)
	}
	mb, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("serving: encode meta: %w", err)
	}
	return &Files{Columns: cols, Detail: det, Meta: mb}, nil
}

// Write stores a run's snapshot (Encode) and then points latest.json at
// it.
func Write(ctx context.Context, st Store, meta *Meta, customers []Customer) (Pointer, error) {
	return WriteSharded(ctx, st, meta, customers, 1)
}

// WriteSharded stores a run's snapshot split into shards by ShardOf, and
// then points latest.json at it (WriteShards). Each shard's customers are
// encoded alone, so an instance serving shard k reads only its bytes.
// shards 1 writes the unsharded layout (Write). customers must be as
// Encode wants them.
func WriteSharded(ctx context.Context, st Store, meta *Meta, customers []Customer, shards int) (Pointer, error) {
	if shards < 1 || shards > MaxShards {
		return Pointer{}, fmt.Errorf("serving: %d shards, want 1 to %d", shards, MaxShards)
	}
	if meta == nil {
		return Pointer{}, errors.New("serving: no meta")
	}
	if err := sortedIDs(customers); err != nil { // before splitting: a split hides an unsorted whole
		return Pointer{}, err
	}
	parts := [][]Customer{customers} // one shard: the rows as they are, not a copy
	if shards > 1 {
		parts = Split(customers, shards)
	}
	var files []*Files
	for _, part := range parts {
		f, err := Encode(meta, part)
		if err != nil {
			return Pointer{}, err
		}
		files = append(files, f)
	}
	return WriteShards(ctx, st, meta.Run, files)
}

// WriteShards stores a run encoded in len(shards) shards (shards[k] the
// files of the customers with ShardOf(id, len(shards)) == k, each encoded
// alone, all with the run's meta) and then points latest.json at them:
// columns.bin and detail.bin of shard k under runs/<run>/shards-<n>/<k>/,
// keyed by the shard count, and one meta.json. One shard is WriteFiles.
func WriteShards(ctx context.Context, st Store, run string, shards []*Files) (Pointer, error) {
	switch {
	case len(shards) == 1:
		return WriteFiles(ctx, st, run, shards[0])
	case len(shards) == 0 || len(shards) > MaxShards:
		return Pointer{}, fmt.Errorf("serving: %d shards, want 1 to %d", len(shards), MaxShards)
	}
	var files []ShardFiles
	for k, f := range shards {
		sf, err := PutShard(ctx, st, run, len(shards), k, f.Columns, f.Detail)
		if err != nil {
			return Pointer{}, err
		}
		files = append(files, sf)
	}
	return PointShards(ctx, st, run, shards[0].Meta, files)
}

// PutShard stores shard k of n of a run (its encoded columns.bin and
// detail.bin) where WriteShards puts them, one shard at a time: a writer
// that cannot hold every shard at once, then PointShards.
func PutShard(ctx context.Context, st Store, run string, n, k int, columns, detail []byte) (ShardFiles, error) {
	if n < 2 || n > MaxShards || k < 0 || k >= n {
		return ShardFiles{}, fmt.Errorf("serving: shard %d of %d: want 0 <= shard < shards, 2 to %d shards", k, n, MaxShards)
	}
	sd := path.Join("runs", run, fmt.Sprintf("shards-%d", n), strconv.Itoa(k))
	f := ShardFiles{Columns: path.Join(sd, "columns.bin"), ColumnsBytes: int64(len(columns)),
		Detail: path.Join(sd, "detail.bin"), DetailBytes: int64(len(detail))}
	return f, putAll(ctx, st, f.Detail, detail, f.Columns, columns)
}

// PointShards stores run's meta.json (encoded Meta of the whole run) and
// then points latest.json at it and at the shards' files, in shard order.
// The files may be another run's: a run that changes only its metadata
// reuses the shards' bytes.
func PointShards(ctx context.Context, st Store, run string, meta []byte, shards []ShardFiles) (Pointer, error) {
	if len(shards) < 2 || len(shards) > MaxShards {
		return Pointer{}, fmt.Errorf("serving: %d shards, want 2 to %d", len(shards), MaxShards)
	}
	p := Pointer{Format: FormatColumns, Run: run, Meta: path.Join("runs", run, "meta.json"), Shards: shards}
	pb, _ := json.Marshal(p)
	if err := putAll(ctx, st, p.Meta, meta, LatestKey, pb); err != nil {
		return Pointer{}, err
	}
	return p, nil
}

// MaxShards is the most shards a run may be split into.
const MaxShards = 256

// putAll stores key, body pairs in order.
func putAll(ctx context.Context, st Store, kv ...any) error {
	for i := 0; i < len(kv); i += 2 {
		key, body := kv[i].(string), kv[i+1].([]byte)
		if err := st.Put(ctx, key, body); err != nil {
			return fmt.Errorf("serving: write %s: %w", key, err)
		}
	}
	return nil
}

// sortedIDs checks that customers are sorted by valid, distinct ids.
func sortedIDs(customers []Customer) error {
	for i := range customers {
		if !ValidID(customers[i].SubscriberID) {
			return fmt.Errorf("serving: row %d: invalid subscriber id %q", i, customers[i].SubscriberID)
		}
		if i > 0 && customers[i-1].SubscriberID >= customers[i].SubscriberID {
			return fmt.Errorf("serving: customers not sorted by id at %d (%s, %s)", i, customers[i-1].SubscriberID, customers[i].SubscriberID)
		}
	}
	return nil
}

// ErrNoSnapshot means no scoring run has written a snapshot yet.
var ErrNoSnapshot = errors.New("serving: no snapshot yet (run the score function)")

// Latest reads the pointer to the newest snapshot (ErrNoSnapshot when
// notFound says it is missing): one small read, to check for a new run.
func Latest(ctx context.Context, st Getter, notFound func(error) bool) (Pointer, error) {
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
	if p.Format != FormatColumns {
		return p, fmt.Errorf("serving: run %s has snapshot format %d, this reader needs %d: run the score function again", p.Run, p.Format, FormatColumns)
	}
	return p, nil
}
