package lake

import (
	"testing"
	"time"
)

func TestShortDuration(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{{120 * time.Hour, "120h"}, {90 * time.Minute, "1h30m"}, {0, "0s"}, {time.Nanosecond, "1ns"}, {25 * time.Minute, "25m"}, {61 * time.Second, "1m1s"}} {
		if got := shortDuration(tt.d); got != tt.want {
			t.Errorf("shortDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
