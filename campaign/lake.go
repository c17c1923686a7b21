package campaign

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/telcolake/telcolake/lake"
)

// LakeStore keeps campaigns in the lake: crm.campaigns and
// crm.campaign_contacts (written here), crm.responses (written by ingest)
// and crm.subscribers (read for churn).
type LakeStore struct {
	Tables lake.TableLoader
}

// Save freezes a campaign: its contacts first, then its row in
// crm.campaigns, so a campaign that can be listed always has its contacts.
// Saving the same id again replaces both.
func (s LakeStore) Save(ctx context.Context, c Campaign, contacts []Contact) error {
	byID := iceberg.EqualTo(iceberg.Reference("campaign_id"), c.ID)
	b, err := lake.NewRowBuilder(lake.CampaignContactsTable, len(contacts))
	if err != nil {
		return err
	}
	defer b.Release()
	for _, ct := range contacts {
		b.String("campaign_id", c.ID)
		b.String("subscriber_id", ct.SubscriberID)
		b.String("arm", ct.Arm)
		b.Int32("rank", int64(ct.Rank))
		b.Float("churn_probability", finite(ct.Probability))
		for k, name := range []string{"reason_1", "reason_2", "reason_3"} {
			v := ""
			if k < len(ct.Reasons) {
				v = ct.Reasons[k]
			}
			b.String(name, v)
		}
		b.String("segment_name", ct.Segment)
		b.Money("monthly_value", int64(math.Round(finite(ct.MonthlyValue)*100)))
		b.Float("clv", finite(ct.CLV))
		b.Float("value_at_risk", finite(ct.ValueAtRisk))
		b.Time("frozen_at", c.CreatedAt)
	}
	rec := b.Record()
	defer rec.Release()
	props := iceberg.Properties{"telcolake.campaign": c.ID}
	if _, err := lake.ReplaceRows(ctx, s.Tables, lake.CampaignContactsTable, byID, []arrow.RecordBatch{rec}, props); err != nil {
		return fmt.Errorf("campaign %s: write contacts: %w", c.ID, err)
	}
	cb, err := lake.NewRowBuilder(lake.CampaignsTable, 1)
	if err != nil {
		return err
	}
	defer cb.Release()
	cb.String("campaign_id", c.ID)
	cb.String("name", c.Name)
	cb.String("offer", c.Offer)
	cb.String("channel", c.Channel)
	cb.Money("cost_per_contact", int64(math.Round(c.CostPerContact*100)))
	cb.Int32("size", int64(c.Size))
	cb.Float("control_share", c.ControlShare)
	cb.String("source_kind", c.SourceKind)
	cb.String("source_name", c.SourceName)
	cb.String("run", c.Run)
	cb.Int64("seed", int64(c.Seed))
	cb.Int32("treated", int64(c.Treated))
	cb.Int32("control", int64(c.Control))
	cb.Int32("horizon_days", int64(c.HorizonDays))
	cb.Time("created_at", c.CreatedAt)
	cb.String("created_by", c.CreatedBy)
	crec := cb.Record()
	defer crec.Release()
	if _, err := lake.ReplaceRows(ctx, s.Tables, lake.CampaignsTable, byID, []arrow.RecordBatch{crec}, props); err != nil {
		return fmt.Errorf("campaign %s: write campaign: %w", c.ID, err)
	}
	return nil
}

func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// List returns every campaign, newest first.
func (s LakeStore) List(ctx context.Context) ([]Campaign, error) {
	return s.campaigns(ctx, nil)
}

// Get returns one campaign, or ErrNotFound.
func (s LakeStore) Get(ctx context.Context, id string) (Campaign, error) {
	cs, err := s.campaigns(ctx, iceberg.EqualTo(iceberg.Reference("campaign_id"), id))
	if err != nil {
		return Campaign{}, err
	}
	if len(cs) == 0 {
		return Campaign{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return cs[0], nil
}

func (s LakeStore) campaigns(ctx context.Context, filter iceberg.BooleanExpression) ([]Campaign, error) {
	var out []Campaign
	err := s.scan(ctx, lake.CampaignsTable, filter, func(r row) {
		c := Campaign{ID: r.str("campaign_id"), SourceKind: r.str("source_kind"), SourceName: r.str("source_name"),
			Run: r.str("run"), Seed: uint64(r.i64("seed")), Treated: int(r.i64("treated")), Control: int(r.i64("control")),
			CreatedAt: r.ts("created_at"), CreatedBy: r.str("created_by")}
		c.Spec = Spec{Name: r.str("name"), Offer: r.str("offer"), Channel: r.str("channel"), CostPerContact: r.money("cost_per_contact"),
			Size: int(r.i64("size")), ControlShare: r.f64("control_share"), HorizonDays: int(r.i64("horizon_days"))}
		if c.SourceKind == "group" {
			c.Group = c.SourceName
		} else {
			c.List = c.SourceName
		}
		out = append(out, c)
	})
	if err != nil {
		return nil, fmt.Errorf("campaigns: %w", err)
	}
	slices.SortStableFunc(out, func(a, b Campaign) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out, nil
}

// Contacts returns a campaign's frozen contact list in rank order.
func (s LakeStore) Contacts(ctx context.Context, id string) ([]Contact, error) {
	var out []Contact
	err := s.scan(ctx, lake.CampaignContactsTable, iceberg.EqualTo(iceberg.Reference("campaign_id"), id), func(r row) {
		ct := Contact{SubscriberID: r.str("subscriber_id"), Arm: r.str("arm"), Rank: int(r.i64("rank")),
			Probability: r.f64("churn_probability"), Segment: r.str("segment_name"), MonthlyValue: r.money("monthly_value"),
			CLV: r.f64("clv"), ValueAtRisk: r.f64("value_at_risk")}
		for _, name := range []string{"reason_1", "reason_2", "reason_3"} {
			if v := r.str(name); v != "" {
				ct.Reasons = append(ct.Reasons, v)
			}
		}
		out = append(out, ct)
	})
	if err != nil {
		return nil, fmt.Errorf("campaign %s: contacts: %w", id, err)
	}
	slices.SortFunc(out, func(a, b Contact) int { return a.Rank - b.Rank })
	return out, nil
}

// Responses returns the contact attempts ingested for a campaign.
func (s LakeStore) Responses(ctx context.Context, id string) ([]Response, error) {
	var out []Response
	err := s.scan(ctx, lake.ResponsesTable, iceberg.EqualTo(iceberg.Reference("campaign_id"), id), func(r row) {
		out = append(out, Response{SubscriberID: r.str("subscriber_id"), ContactedAt: r.ts("contacted_at"), Outcome: r.str("outcome")})
	})
	if err != nil {
		return nil, fmt.Errorf("campaign %s: responses: %w", id, err)
	}
	return out, nil
}

// Churned returns the customers the register shows deactivated with a
// status date after from and no later than to (days, UTC).
func (s LakeStore) Churned(ctx context.Context, from, to time.Time) (map[string]bool, error) {
	day := func(t time.Time) iceberg.Date { return iceberg.Date(t.UTC().Unix() / 86400) }
	f := iceberg.NewAnd(iceberg.EqualTo(iceberg.Reference("status"), "deactivated"),
		iceberg.GreaterThan(iceberg.Reference("status_date"), day(from)),
		iceberg.LessThanEqual(iceberg.Reference("status_date"), day(to)))
	out := map[string]bool{}
	err := s.scan(ctx, lake.SubscribersTable, f, func(r row) { out[r.str("subscriber_id")] = true },
		"subscriber_id", "status", "status_date")
	if err != nil {
		return nil, fmt.Errorf("churned customers: %w", err)
	}
	return out, nil
}

// Measure reads a campaign, its contacts, responses and churn, and
// measures it as of now.
func (s LakeStore) Measure(ctx context.Context, id string, now time.Time) (Results, error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return Results{}, err
	}
	contacts, err := s.Contacts(ctx, id)
	if err != nil {
		return Results{}, err
	}
	resp, err := s.Responses(ctx, id)
	if err != nil {
		return Results{}, err
	}
	churned, err := s.Churned(ctx, c.CreatedAt, c.HorizonEnd())
	if err != nil {
		return Results{}, err
	}
	return Measure(c, contacts, resp, func(id string) bool { return churned[id] }, now), nil
}

// scan reads the rows of def matching filter (nil: all), optionally only
// some columns.
func (s LakeStore) scan(ctx context.Context, def lake.TableDef, filter iceberg.BooleanExpression, fn func(row), columns ...string) error {
	tbl, err := s.Tables.LoadTable(ctx, def.Ident())
	if err != nil {
		return fmt.Errorf("load %s.%s: %w", lake.Namespace, def.Name, err)
	}
	var opts []table.ScanOption
	if filter != nil {
		opts = append(opts, table.WithRowFilter(filter))
	}
	if len(columns) > 0 {
		opts = append(opts, table.WithSelectedFields(columns...))
	}
	at, err := tbl.Scan(opts...).ToArrowTable(ctx)
	if err != nil {
		return fmt.Errorf("scan %s.%s: %w", lake.Namespace, def.Name, err)
	}
	defer at.Release()
	tr := array.NewTableReader(at, 4096)
	defer tr.Release()
	var rowErr error
	for tr.Next() {
		rec := tr.RecordBatch()
		cols := map[string]int{}
		for j, f := range rec.Schema().Fields() {
			cols[f.Name] = j
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			fn(row{rec: rec, cols: cols, i: i, err: &rowErr})
		}
	}
	if err := tr.Err(); err != nil {
		return fmt.Errorf("read %s.%s: %w", lake.Namespace, def.Name, err)
	}
	if rowErr != nil {
		return fmt.Errorf("read %s.%s: %w", lake.Namespace, def.Name, rowErr)
	}
	return nil
}

// row reads one row of a batch by column name; nulls read as zero values.
type row struct {
	rec  arrow.RecordBatch
	cols map[string]int
	i    int
	err  *error
}

func (r row) col(name string) arrow.Array {
	j, ok := r.cols[name]
	if !ok {
		*r.err = fmt.Errorf("column %s missing", name)
		return nil
	}
	if c := r.rec.Column(j); !c.IsNull(r.i) {
		return c
	}
	return nil
}

func (r row) bad(name string, c arrow.Array) {
	*r.err = fmt.Errorf("column %s: unexpected type %s", name, c.DataType())
}

func (r row) str(name string) string {
	switch a := r.col(name).(type) {
	case nil:
	case *array.String:
		return a.Value(r.i)
	case *array.LargeString:
		return a.Value(r.i)
	default:
		r.bad(name, a)
	}
	return ""
}

func (r row) i64(name string) int64 {
	switch a := r.col(name).(type) {
	case nil:
	case *array.Int64:
		return a.Value(r.i)
	case *array.Int32:
		return int64(a.Value(r.i))
	default:
		r.bad(name, a)
	}
	return 0
}

func (r row) f64(name string) float64 {
	switch a := r.col(name).(type) {
	case nil:
	case *array.Float64:
		return a.Value(r.i)
	default:
		r.bad(name, a)
	}
	return 0
}

func (r row) money(name string) float64 {
	switch a := r.col(name).(type) {
	case nil:
	case *array.Decimal128:
		return decimal128.Num(a.Value(r.i)).ToFloat64(a.DataType().(*arrow.Decimal128Type).Scale)
	default:
		r.bad(name, a)
	}
	return 0
}

func (r row) ts(name string) time.Time {
	switch a := r.col(name).(type) {
	case nil:
	case *array.Timestamp:
		return a.Value(r.i).ToTime(a.DataType().(*arrow.TimestampType).Unit).UTC()
	default:
		r.bad(name, a)
	}
	return time.Time{}
}
