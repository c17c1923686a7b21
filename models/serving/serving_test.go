package serving_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/telcolake/telcolake/models/serving"
)

type memStore map[string][]byte

var errMissing = errors.New("missing")

func (m memStore) Put(_ context.Context, k string, b []byte) error {
	m[k] = append([]byte(nil), b...)
	return nil
}
func (m memStore) Get(_ context.Context, k string) ([]byte, error) {
	b, ok := m[k]
	if !ok {
		return nil, errMissing
	}
	return b, nil
}

func TestWriteReadRoundTrip(t *testing.T) {
	st := memStore{}
	notFound := func(err error) bool { return errors.Is(err, errMissing) }
	if _, _, err := serving.Read(context.Background(), st, notFound); !errors.Is(err, serving.ErrNoSnapshot) {
		t.Fatalf("Read of an empty store: %v, want ErrNoSnapshot", err)
	}
	cs := []serving.Customer{
		{SubscriberID: "S1", MSISDN: "491700000001", Name: "Anna", Plan: "PLUS20", Status: "active", Probability: 0.25,
			Reasons: []string{"many calls to customer care (6)", "short tenure (2)"}, SegmentID: 2, MonthlyValue: 39.9,
			History: []serving.Month{{Month: "2026-09", VoiceMinutes: 12.5, AmountDue: 39.9}, {Month: "2026-10", VoiceMinutes: 3}}},
		{SubscriberID: "S2", MSISDN: "491700000002", Plan: "BASIC10", Status: "deactivated"},
	}
	meta := &serving.Meta{Run: "20261123T120000Z", FeatureMonth: "2026-10", Customers: 2,
		Lists: []serving.List{{Name: "churn-risk", IDs: []string{"S1"}}}}
	if _, err := serving.Write(context.Background(), st, meta, cs); err != nil {
		t.Fatal(err)
	}
	m, got, err := serving.Read(context.Background(), st, notFound)
	if err != nil {
		t.Fatal(err)
	}
	if m.Run != meta.Run || len(m.Lists) != 1 || m.Lists[0].IDs[0] != "S1" {
		t.Errorf("meta = %+v", m)
	}
	cs[1].Reasons, cs[1].History = []string{}, []serving.Month{} // empty lists come back empty, not nil
	if !reflect.DeepEqual(got, cs) {
		t.Errorf("customers round trip:\n got %+v\nwant %+v", got, cs)
	}
	unsorted := []serving.Customer{{SubscriberID: "S2"}, {SubscriberID: "S1"}}
	if _, err := serving.Write(context.Background(), st, meta, unsorted); err == nil {
		t.Error("Write accepted customers out of order")
	}
}
