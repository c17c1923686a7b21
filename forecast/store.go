package forecast

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"

	"github.com/telcolake/telcolake/lake"
)

// Scenario is a saved what-if: what was asked, against which forecast,
// and what it came to.
type Scenario struct {
	ID          string    `json:"id"`
	Owner       string    `json:"owner"`
	CreatedAt   time.Time `json:"created_at"`
	ForecastRun string    `json:"forecast_run"`
	Spec        Spec      `json:"spec"`
	Outcome     Outcome   `json:"outcome"`
}

// NewScenarioID returns a fresh scenario id.
func NewScenarioID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "scn-" + now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// ScenarioStore keeps scenarios in crm.scenarios.
type ScenarioStore struct{ Tables lake.TableLoader }

// Save stores sc (replacing a scenario of the same id).
func (s ScenarioStore) Save(ctx context.Context, sc Scenario) error {
	spec, err := json.Marshal(sc.Spec)
	if err != nil {
		return fmt.Errorf("forecast: scenario %s: %w", sc.ID, err)
	}
	out, err := json.Marshal(sc.Outcome)
	if err != nil {
		return fmt.Errorf("forecast: scenario %s: %w", sc.ID, err)
	}
	b, err := lake.NewRowBuilder(lake.ScenariosTable, 1)
	if err != nil {
		return err
	}
	defer b.Release()
	b.String("scenario_id", sc.ID)
	b.String("name", sc.Spec.Name)
	b.String("owner", sc.Owner)
	b.Bool("shared", sc.Spec.Shared)
	b.String("kind", sc.Spec.Kind)
	b.Time("created_at", sc.CreatedAt)
	b.String("forecast_run", sc.ForecastRun)
	b.String("spec", string(spec))
	b.String("outcome", string(out))
	rec := b.Record()
	defer rec.Release()
	if _, err := lake.ReplaceRows(ctx, s.Tables, lake.ScenariosTable, iceberg.EqualTo(iceberg.Reference("scenario_id"), sc.ID),
		[]arrow.RecordBatch{rec}, iceberg.Properties{"telcolake.scenario": sc.ID}); err != nil {
		return fmt.Errorf("forecast: save scenario %s: %w", sc.ID, err)
	}
	return nil
}

// List returns every scenario, oldest first.
func (s ScenarioStore) List(ctx context.Context) ([]Scenario, error) {
	var out []Scenario
	for b, err := range lake.Scan(ctx, s.Tables, lake.ScenariosTable) {
		if err != nil {
			return nil, fmt.Errorf("forecast: read crm.scenarios: %w", err)
		}
		id, owner, created, run := b.String("scenario_id"), b.String("owner"), b.Time("created_at"), b.String("forecast_run")
		spec, outc := b.String("spec"), b.String("outcome")
		if err := b.Err(); err != nil {
			return nil, fmt.Errorf("forecast: read crm.scenarios: %w", err)
		}
		for i := range b.Len() {
			sc := Scenario{ID: strings.Clone(id.Value(i)), Owner: strings.Clone(owner.Value(i)), CreatedAt: created.Value(i),
				ForecastRun: strings.Clone(run.Value(i))}
			if err := json.Unmarshal([]byte(spec.Value(i)), &sc.Spec); err != nil {
				return nil, fmt.Errorf("forecast: scenario %s: spec: %w", sc.ID, err)
			}
			if err := json.Unmarshal([]byte(outc.Value(i)), &sc.Outcome); err != nil {
				return nil, fmt.Errorf("forecast: scenario %s: outcome: %w", sc.ID, err)
			}
			out = append(out, sc)
		}
	}
	sortScenarios(out)
	return out, nil
}

func sortScenarios(s []Scenario) {
	slices.SortFunc(s, func(a, b Scenario) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// MemScenarios keeps scenarios in memory.
type MemScenarios struct {
	mu sync.Mutex
	m  map[string]Scenario
}

// Save stores sc.
func (m *MemScenarios) Save(_ context.Context, sc Scenario) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string]Scenario{}
	}
	m.m[sc.ID] = sc
	return nil
}

// List returns every scenario, oldest first.
func (m *MemScenarios) List(context.Context) ([]Scenario, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Scenario, 0, len(m.m))
	for _, sc := range m.m {
		out = append(out, sc)
	}
	sortScenarios(out)
	return out, nil
}

// MemForecast serves a fixed stored forecast (tests, in-process use).
type MemForecast struct{ Stored *Stored }

// Forecast returns the stored forecast.
func (m MemForecast) Forecast(context.Context) (*Stored, error) {
	if m.Stored == nil {
		return &Stored{}, nil
	}
	return m.Stored, nil
}
