package scoring

import (
	"context"
	"encoding/json"

	"github.com/telcolake/telcolake/models/serving"
)

// HandleEvent is the score function's handler: ev is a Task (a scheduled
// event, with none of its fields, is a whole run); cost rates the payload
// leaves out keep serving.DefaultCosts.
func (r *Runner) HandleEvent(ctx context.Context, ev json.RawMessage) (any, error) {
	return r.Handle(ctx, ParseTask(ev))
}

// ParseTask reads a Task from an event; what is not a Task gives a whole
// run with the defaults.
func ParseTask(ev json.RawMessage) Task {
	costs := serving.DefaultCosts
	t := Task{Costs: &costs}
	if json.Unmarshal(ev, &t) != nil {
		costs = serving.DefaultCosts
		return Task{Costs: &costs}
	}
	return t
}
