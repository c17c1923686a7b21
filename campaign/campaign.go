// Package campaign runs retention campaigns with control groups and
// measures what they changed: a campaign is drawn from a scored list, a
// seeded random share of it is held out as control, the contact list is
// frozen in the lake (crm.campaigns, crm.campaign_contacts), the responses
// come back through ingest (crm.responses), and Measure compares churn in
// the treated and control arms over the campaign's horizon (uplift with a
// Newcombe 95% interval, retained customers, their CLV, cost, ROI).
//
// Who to contact next is the uplift model (uplift.go): two of the
// project's own boosted-tree churn models, one fitted on treated and one
// on control customers of past campaigns; a customer's uplift is the
// control model's churn probability minus the treated one's. It is held to
// a held-out campaign by its Qini curve and AUUC against ranking by churn
// risk (qini.go), and promoted only when it beats that ranking.
package campaign

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Channels a campaign may use.
const (
	ChannelCall = "outbound_call"
	ChannelSMS  = "sms"
	ChannelMail = "mail"
	ChannelShop = "shop"
)

// Channels lists the channels in the order they are documented.
var Channels = []string{ChannelCall, ChannelSMS, ChannelMail, ChannelShop}

// Arms of a campaign.
const (
	ArmTreated = "treated"
	ArmControl = "control"
)

// Limits of a Spec.
const (
	MaxSize           = 100_000
	MaxCostPerContact = 10_000 // in the currency's units
	DefaultHorizon    = 60     // days
	MaxHorizon        = 365
)

// Spec is what a campaign is asked for.
type Spec struct {
	Name    string `json:"name"`
	Offer   string `json:"offer"`
	Channel string `json:"channel"`
	// CostPerContact is the cost of one contact attempt, in the
	// currency's units (two decimals kept).
	CostPerContact float64 `json:"cost_per_contact"`
	// Size is how many customers (treated and control) are taken from the
	// top of the source list; fewer when the list is shorter.
	Size int `json:"size"`
	// ControlShare is the share of them held out as control, in [0.05, 0.5].
	ControlShare float64 `json:"control_share"`
	// List or Group names the source (exactly one).
	List  string `json:"list,omitempty"`
	Group string `json:"group,omitempty"`
	// HorizonDays is how long after creation churn is counted (default 60).
	HorizonDays int `json:"horizon_days,omitempty"`
	// ControlSeed, when set (1 to MaxControlSeed), seeds the control draw
	// instead of the hash of the campaign id: the same seed over the same
	// ranked source draws the same arms whatever the id (a test rerun, the
	// demo). The seed used is the campaign's Seed either way.
	ControlSeed uint64 `json:"control_seed,omitempty"`
}

// MaxControlSeed is the largest ControlSeed: 2^53 − 1, exact in JSON.
const MaxControlSeed = 1<<53 - 1

// FieldError is a bad field of a Spec.
type FieldError struct {
	Field, Msg string
}

func (e *FieldError) Error() string { return "campaign: " + e.Field + " " + e.Msg }

func bad(field, format string, a ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, a...)}
}

// Validate checks a Spec and fills its defaults.
func (s *Spec) Validate() error {
	s.Name = strings.TrimSpace(s.Name)
	if s.Name == "" || len(s.Name) > 120 || strings.ContainsFunc(s.Name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return bad("name", "must be 1-120 characters without control characters")
	}
	if !validToken(s.Offer, 64) {
		return bad("offer", "must be 1-64 characters of a-z, 0-9, '-' and '_' (e.g. discount-10)")
	}
	if !slices.Contains(Channels, s.Channel) {
		return bad("channel", "must be one of %s", strings.Join(Channels, ", "))
	}
	if math.IsNaN(s.CostPerContact) || s.CostPerContact < 0 || s.CostPerContact > MaxCostPerContact {
		return bad("cost_per_contact", "must be between 0 and %d", MaxCostPerContact)
	}
	s.CostPerContact = math.Round(s.CostPerContact*100) / 100
	if s.Size < 2 || s.Size > MaxSize {
		return bad("size", "must be between 2 and %d", MaxSize)
	}
	if math.IsNaN(s.ControlShare) || s.ControlShare < 0.05 || s.ControlShare > 0.5 {
		return bad("control_share", "must be between 0.05 and 0.5")
	}
	switch {
	case s.List == "" && s.Group == "":
		return bad("list", "or group is required: the source of the contacts")
	case s.List != "" && s.Group != "":
		return bad("group", "and list are exclusive: name one source")
	case s.List != "" && !validToken(s.List, 64):
		return bad("list", "must be a list name (see /v1/lists)")
	case s.Group != "" && !validToken(strings.ToLower(s.Group), 64):
		return bad("group", "must be a group id")
	}
	if s.ControlSeed > MaxControlSeed {
		return bad("control_seed", "must be between 1 and %d (0 or absent: from the campaign id)", uint64(MaxControlSeed))
	}
	if s.HorizonDays == 0 {
		s.HorizonDays = DefaultHorizon
	}
	if s.HorizonDays < 7 || s.HorizonDays > MaxHorizon {
		return bad("horizon_days", "must be between 7 and %d", MaxHorizon)
	}
	return nil
}

func validToken(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Campaign is a created campaign: its spec, where its contacts came from
// and how its control group was drawn.
type Campaign struct {
	ID string `json:"id"`
	Spec
	SourceKind string    `json:"source_kind"` // list or group
	SourceName string    `json:"source_name"`
	Run        string    `json:"run"` // scoring run of the list
	Seed       uint64    `json:"seed"`
	Treated    int       `json:"treated"`
	Control    int       `json:"control"`
	CreatedAt  time.Time `json:"created_at"`
	CreatedBy  string    `json:"created_by"`
}

// HorizonEnd is when the campaign's churn window closes.
func (c *Campaign) HorizonEnd() time.Time {
	return c.CreatedAt.Add(time.Duration(c.HorizonDays) * 24 * time.Hour)
}

// Contact is one customer of a campaign, frozen as it was scored when the
// campaign was created.
type Contact struct {
	SubscriberID string   `json:"subscriber_id"`
	Arm          string   `json:"arm"`
	Rank         int      `json:"rank"`
	Probability  float64  `json:"churn_probability"`
	Reasons      []string `json:"reasons"`
	Segment      string   `json:"segment_name"`
	MonthlyValue float64  `json:"monthly_value"`
	CLV          float64  `json:"clv"`
	ValueAtRisk  float64  `json:"value_at_risk"`
	// Name and MSISDN travel only to the export, never into the lake.
	Name   string `json:"-"`
	MSISDN string `json:"-"`
}

// NewID returns a fresh campaign id, cmp-YYYYMMDD-xxxxxxxx.
func NewID(now time.Time) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return "cmp-" + now.UTC().Format("20060102") + "-" + hex.EncodeToString(b[:])
}

// Seed is the seed of a campaign's control draw: a hash of its id, so the
// draw is reproducible from the id alone.
func Seed(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte("telcolake campaign control v1\x00"))
	h.Write([]byte(id))
	return h.Sum64()
}

// ControlSize is the number of control customers of n drawn with share:
// round(share × n), halves away from zero, and at least one of each arm.
func ControlSize(n int, share float64) int {
	k := int(math.Round(share * float64(n)))
	return min(max(k, 1), n-1)
}

// Draw marks ControlSize(n, share) of n positions as control, chosen
// uniformly at random by a permutation seeded with seed: the same seed
// gives the same draw.
func Draw(n int, share float64, seed uint64) []bool {
	control := make([]bool, n)
	if n < 2 {
		return control
	}
	r := mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for _, i := range r.Perm(n)[:ControlSize(n, share)] {
		control[i] = true
	}
	return control
}

// ErrNotFound is returned by stores for an unknown campaign.
var ErrNotFound = errors.New("campaign: not found")

// Freeze builds a campaign from its spec and the ranked candidates (the
// source list, best first): it takes the first Size, draws the control
// group and returns the campaign with its contacts in rank order.
func Freeze(id string, s Spec, run string, now time.Time, by string, candidates []Contact) (Campaign, []Contact, error) {
	if len(candidates) < 2 {
		return Campaign{}, nil, bad("size", "the source has %d customers; a campaign needs at least 2", len(candidates))
	}
	n := min(s.Size, len(candidates))
	seed := Seed(id)
	if s.ControlSeed != 0 {
		seed = s.ControlSeed
	}
	c := Campaign{ID: id, Spec: s, Run: run, Seed: seed, CreatedAt: now.UTC().Truncate(time.Microsecond), CreatedBy: by,
		SourceKind: "list", SourceName: s.List}
	if s.Group != "" {
		c.SourceKind, c.SourceName = "group", s.Group
	}
	control := Draw(n, s.ControlShare, c.Seed)
	out := make([]Contact, n)
	for i := range out {
		out[i] = candidates[i]
		out[i].Rank = i + 1
		out[i].Arm = ArmTreated
		if control[i] {
			out[i].Arm = ArmControl
			c.Control++
		} else {
			c.Treated++
		}
	}
	return c, out, nil
}
