package web

import (
	"strings"
	"testing"

	"github.com/telcolake/telcolake/models/serving"
)

// TestValuePage: analysts and admins see each tier's size as the
// snapshot has it; agents are refused, as by the API.
func TestValuePage(t *testing.T) {
	f := newFixture(t)
	counts := map[string]int{}
	for _, c := range f.customers {
		counts[c.ValueTier]++
	}
	for _, tt := range []struct {
		user string
		code int
	}{{"ada", 403}, {"ana", 200}, {"adm", 200}} {
		c := f.client("127.0.0.1")
		c.signIn(t, tt.user, password(tt.user))
		resp := c.do("GET", "/console/value", nil)
		body := text(t, resp)
		if resp.StatusCode != tt.code {
			t.Fatalf("%s: /console/value = %d, want %d", tt.user, resp.StatusCode, tt.code)
		}
		if tt.code != 200 {
			continue
		}
		tiers := strings.Join(strings.Fields(textOf(t, body, "tiers")), " ")
		for _, tier := range serving.Tiers[:4] {
			if want := tier + " " + grouped(float64(counts[tier]), 0); !strings.Contains(tiers, want) {
				t.Errorf("%s: tiers table lacks %q: %s", tt.user, want, tiers)
			}
		}
		if strings.Contains(body, "NaN") || !strings.Contains(body, `id="migration"`) {
			t.Errorf("%s: page shows NaN or has no migration section", tt.user)
		}
	}
}
