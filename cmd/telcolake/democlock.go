package main

import (
	"fmt"
	"strings"
	"time"
)

// demoClock records when each part of the demo began, so its end can say
// where the time went (the parts' wall times, in order).
type demoClock struct {
	start time.Time
	marks []demoMark
}

type demoMark struct {
	name string
	at   time.Time
}

func newDemoClock() *demoClock { return &demoClock{start: time.Now()} }

// mark ends the running part and begins the one called name.
func (c *demoClock) mark(name string) { c.marks = append(c.marks, demoMark{name, time.Now()}) }

// summary is the parts' times, e.g. "stack 7.1s, exports 6.9s, ...", up
// to end.
func (c *demoClock) summary(end time.Time) string {
	var parts []string
	for i, m := range c.marks {
		next := end
		if i+1 < len(c.marks) {
			next = c.marks[i+1].at
		}
		parts = append(parts, fmt.Sprintf("%s %.1fs", m.name, next.Sub(m.at).Seconds()))
	}
	return strings.Join(parts, ", ")
}
