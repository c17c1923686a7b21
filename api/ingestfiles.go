package api

import (
	"crypto/sha256"
	"encoding/binary"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/telcolake/telcolake/lake"
)

// GET /v1/ingest/files: a bounded view of crm.ingest_log. It answers the
// days from= to to= (default: the last 7 days up to today, UTC; at most
// maxIngestDays), optionally one status= and table=, newest first, a page
// of limit= rows with a signed cursor to the next. Its cost is the rows of
// the days a page spans (see LakeSources.IngestFiles), never the history.

const (
	pFrom = "from"
	pTo   = "to"
	// defaultIngestDays is the span without from=: today and the 6 days
	// before.
	defaultIngestDays = 7
	// maxIngestDays bounds to - from + 1.
	maxIngestDays = 31
)

func ingestParams() []paramSpec {
	return []paramSpec{{name: "status"}, {name: "table"}, {name: pFrom}, {name: pTo}, {name: pLimit}, {name: pCursor}}
}

// ingestCursor continues a page: the query's hash, its days, the last row.
type ingestCursor struct {
	query    [8]byte
	from, to int32 // days since the epoch
	after    IngestKey
}

func ingestHash(status, table, from, to string) [8]byte {
	sum := sha256.Sum256([]byte("ingest\x00" + status + "\x00" + table + "\x00" + from + "\x00" + to))
	var h [8]byte
	copy(h[:], sum[:])
	return h
}

func (cc cursorCodec) encodeIngest(c ingestCursor) string {
	b := []byte{cursorIngest}
	b = append(b, c.query[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(c.from))
	b = binary.BigEndian.AppendUint32(b, uint32(c.to))
	b = binary.BigEndian.AppendUint64(b, uint64(c.after.StartedAt.UnixMicro()))
	b = binary.BigEndian.AppendUint16(b, uint16(len(c.after.Source)))
	b = append(b, c.after.Source...)
	b = append(b, c.after.ETag...)
	return cc.seal(b)
}

func (cc cursorCodec) decodeIngest(s string) (ingestCursor, error) {
	b, err := cc.open(s, cursorIngest)
	const head = 1 + 8 + 4 + 4 + 8 + 2
	if err != nil || len(b) < head {
		return ingestCursor{}, errCursor
	}
	c := ingestCursor{from: int32(binary.BigEndian.Uint32(b[9:])), to: int32(binary.BigEndian.Uint32(b[13:]))}
	copy(c.query[:], b[1:9])
	c.after.StartedAt = time.UnixMicro(int64(binary.BigEndian.Uint64(b[17:]))).UTC()
	n := int(binary.BigEndian.Uint16(b[25:]))
	if len(b) < head+n || c.to < c.from || c.to-c.from >= maxIngestDays {
		return ingestCursor{}, errCursor
	}
	c.after.Source = string(b[head : head+n])
	c.after.ETag = string(b[head+n:])
	return c, nil
}

func epochDays(t time.Time) int32 { return int32(t.Unix() / 86400) }

func dayOf(d int32) time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// dateParam reads name as YYYY-MM-DD.
func dateParam(q query, name string) (time.Time, bool, error) {
	v, ok, err := q.one(name)
	if err != nil || !ok {
		return time.Time{}, false, err
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, false, badParam(name, "must be a date YYYY-MM-DD")
	}
	return t, true, nil
}

func (s *Server) ingestFiles(r *request) error {
	status, hasStatus, err := r.q.one("status")
	if err != nil {
		return err
	}
	if hasStatus && !slices.Contains(ingestStatuses, status) {
		return badParam("status", "must be one of %s", strings.Join(ingestStatuses, ", "))
	}
	tableName, hasTable, err := r.q.one("table")
	if err != nil {
		return err
	}
	if hasTable {
		name := strings.TrimPrefix(tableName, lake.Namespace+".")
		if !validTableName(name) {
			return badParam("table", "must be a table name such as cdr or crm.cdr (lower-case letters, digits, _)")
		}
		tableName = lake.Namespace + "." + name
	}
	limit, ok, err := r.q.intParam(pLimit, 1, s.cfg.MaxPageSize)
	if err != nil {
		return err
	}
	if !ok {
		limit = min(defaultIngestLimit, s.cfg.MaxPageSize)
	}
	from, hasFrom, err := dateParam(r.q, pFrom)
	if err != nil {
		return err
	}
	to, hasTo, err := dateParam(r.q, pTo)
	if err != nil {
		return err
	}
	rawFrom, _, _ := r.q.one(pFrom)
	rawTo, _, _ := r.q.one(pTo)
	hash := ingestHash(status, tableName, rawFrom, rawTo) // tableName normalised
	cursor, hasCursor, err := r.q.one(pCursor)
	if err != nil {
		return err
	}
	var after *IngestKey
	if hasCursor {
		c, err := s.cursors.decodeIngest(cursor)
		if err != nil || c.query != hash {
			return badParam(pCursor, "invalid (pass next_cursor of the previous page unchanged, with the same status, table, from and to)")
		}
		from, to, after = dayOf(c.from), dayOf(c.to), &c.after
	} else {
		if !hasTo {
			to = s.now().UTC().Truncate(24 * time.Hour)
		}
		if !hasFrom {
			from = to.AddDate(0, 0, -(defaultIngestDays - 1))
		}
		if to.Before(from) {
			return badParam(pFrom, "must not be after to")
		}
		if epochDays(to)-epochDays(from) >= maxIngestDays {
			return badParam(pFrom, "the range from..to spans at most %d days", maxIngestDays)
		}
	}
	if s.src == nil {
		return errNoSources
	}
	files, err := s.src.IngestFiles(r.ctx, IngestQuery{From: from, To: to, Status: status, Table: tableName, After: after, Limit: limit + 1})
	if err != nil {
		return HTTPError{Code: http.StatusInternalServerError, Msg: "could not read the ingest log", Err: err}
	}
	var next *string
	if len(files) > limit {
		files = files[:limit]
		c := s.cursors.encodeIngest(ingestCursor{query: hash, from: epochDays(from), to: epochDays(to), after: files[limit-1].Key()})
		next = &c
	}
	if files == nil {
		files = []IngestFile{}
	}
	return s.writeJSON(r, struct {
		From       string       `json:"from"`
		To         string       `json:"to"`
		Files      []IngestFile `json:"files"`
		NextCursor *string      `json:"next_cursor"`
	}{from.Format(time.DateOnly), to.Format(time.DateOnly), files, next})
}

// validTableName accepts what a table of the crm namespace is called.
func validTableName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}
