package lake

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/apache/iceberg-go/table"
)

// ErrConflict means a commit kept losing the race with other writers until
// the attempts ran out; nothing was committed and a retry later is safe.
var ErrConflict = errors.New("lake: commit conflict")

// Snapshot summary properties that make ingestion exactly-once.
const (
	propSource = "telcolake.source"
	propETag   = "telcolake.etag"
	propRows   = "telcolake.rows"
	propStatus = "telcolake.status"
)

// isConflict reports whether err is a lost optimistic-concurrency race, after
// which nothing was committed and the commit may be retried on a reloaded
// table. The SQL catalog reports a race on the metadata pointer as
// table.ErrCommitFailed but a requirement that fails against the table it
// loaded (another writer committed first) as a plain error; both are
// conflicts. SQLite's busy and PostgreSQL's serialization failures abort the
// catalog transaction before it changes anything, so they are too.
func isConflict(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, table.ErrCommitFailed) {
		return true
	}
	msg := strings.ToLower(err.Error())
	for _, s := range []string{"requirement failed", "database is locked", "sqlite_busy", "could not serialize", "(sqlstate 40001)"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// retryPolicy bounds the commit loop.
type retryPolicy struct {
	attempts int
	base     time.Duration
	max      time.Duration
}

var defaultRetry = retryPolicy{attempts: 12, base: 25 * time.Millisecond, max: 2 * time.Second}

// retryCommit calls attempt until it succeeds, fails with something other
// than a conflict, or the attempts run out, sleeping a jittered exponential
// backoff between conflicts. attempt must reload the table itself.
func (p retryPolicy) retryCommit(ctx context.Context, attempt func(ctx context.Context) error) error {
	var err error
	for a := 0; a < p.attempts; a++ {
		if a > 0 {
			backoff := p.base << (a - 1)
			if backoff > p.max || backoff <= 0 {
				backoff = p.max
			}
			wait := backoff/2 + rand.N(backoff/2+1) // jitter: [b/2, b]
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting to retry commit: %w (last conflict: %v)", context.Cause(ctx), err)
			case <-time.After(wait):
			}
		}
		err = attempt(ctx)
		if err == nil || !isConflict(err) {
			return err
		}
	}
	return fmt.Errorf("%w after %d attempts: %v", ErrConflict, p.attempts, err)
}
