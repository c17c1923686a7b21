package api

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/telcolake/telcolake/models/serving"
)

// A snapshot of 10M+ customers is split by subscriber hash
// (serving.ShardOf) into shards, each served by an api instance of its
// own; a front fans a request out and merges the answers:
//
//   - the filter (GET /v1/customers): every shard counts its matches and
//     returns its first limit+1 in the sort order; counts add, and the
//     pages merge by (sort value, id) — the unsharded order, since a
//     snapshot's rows are sorted by id and ties break by row. A cursor is
//     (sort value, id), which every shard resolves against its own rows,
//     so a cursor from the merged page stays valid on every shard;
//   - a customer (GET /v1/customers/{id}) goes to the id's shard alone.
//
// Here the shards are in-process Servers (NewSharded), standing in for
// N instances; the merge is the same over HTTP. Other routes are not
// sharded yet and answer 501.

// NewSharded builds a front over shard snapshots: snaps[k] holds the
// customers with serving.ShardOf(id, len(snaps)) == k, all of one run.
func NewSharded(snaps []*serving.Snapshot, src Sources, cfg Config) (*Server, error) {
	if len(snaps) == 0 {
		return nil, errors.New("api: no shards")
	}
	front, err := newFront(src, cfg)
	if err != nil {
		return nil, err
	}
	for k, snap := range snaps {
		s, err := New(snap, src, cfg)
		if err != nil {
			return nil, fmt.Errorf("api: shard %d: %w", k, err)
		}
		if k > 0 && s.meta.Run != front.meta.Run {
			return nil, fmt.Errorf("api: shard %d has run %s, shard 0 run %s", k, s.meta.Run, front.meta.Run)
		}
		if k == 0 {
			front.meta = s.meta
		}
		for id, sg := range s.segments {
			front.segments[id] = sg
		}
		for id := range s.knownSegs {
			front.knownSegs[id] = true
		}
		front.shards = append(front.shards, s)
	}
	return front, nil
}

// errNotSharded answers the routes the sharded layout does not serve yet.
var errNotSharded = HTTPError{Code: http.StatusNotImplemented, Msg: "not answered by the sharded serving layout yet"}

// shardOf is the shard that holds customer id.
func (s *Server) shardOf(id string) *Server { return s.shards[serving.ShardOf(id, len(s.shards))] }

// shardHit is one shard's candidate for the merged page.
type shardHit struct {
	shard int
	e     entry
	id    string
}

// filterSharded answers the filter from every shard.
func (s *Server) filterSharded(r *request) error {
	if _, ok := r.q[pGroup]; ok {
		return errNotSharded // saved groups live beside a snapshot, not in shards yet
	}
	f, err := s.shards[0].parseFilter(r.q) // validation and paging, as one instance does
	if err != nil {
		return err
	}
	if f.csv {
		return errNotSharded
	}
	var c *filterCursor
	if f.cursor != "" {
		dc, err := s.cursors.decodeFilter(f.cursor)
		if err != nil {
			return badParam(pCursor, "invalid (pass next_cursor of the previous page unchanged)")
		}
		if dc.field != f.order.field || dc.desc != f.order.desc || dc.query != f.hash {
			return badParam(pCursor, "belongs to another query (keep the conditions and sort of the first page)")
		}
		c = &dc
	}
	counts := make([]int, len(s.shards))
	hits := make([][]shardHit, len(s.shards))
	errs := make([]error, len(s.shards))
	var wg sync.WaitGroup
	for k, sh := range s.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sf, err := sh.parseFilter(r.q) // the conditions in this shard's codes
			if err != nil {
				errs[k] = err
				return
			}
			var from *entry
			if c != nil {
				from = &entry{k: f.order.sign() * c.value, r: sh.ix.after(c.id)}
			}
			sel, buf := sh.ix.match(sf.preds)
			defer sh.ix.release(buf)
			counts[k] = len(sel)
			for _, e := range sh.ix.top(sel, f.order, from, f.limit+1) {
				hits[k] = append(hits[k], shardHit{shard: k, e: e, id: sh.ix.id(e.r)})
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var all []shardHit
	for _, h := range hits {
		all = append(all, h...)
	}
	slices.SortFunc(all, func(a, b shardHit) int {
		if c := cmp.Compare(a.e.k, b.e.k); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	out := page[item]{Items: []item{}, Run: s.meta.Run}
	for _, n := range counts {
		out.Count += n
	}
	if len(all) > f.limit {
		last := all[f.limit-1]
		sh := s.shards[last.shard]
		cur := s.cursors.encodeFilter(filterCursor{field: f.order.field, desc: f.order.desc, query: f.hash,
			value: sh.ix.value(f.order, last.e.r), id: last.id})
		out.NextCursor = &cur
		all = all[:f.limit]
	}
	// Details from each shard, then back in the merged order.
	rows := make([][]int32, len(s.shards))
	for _, h := range all {
		rows[h.shard] = append(rows[h.shard], h.e.r)
	}
	got := make([][]serving.Customer, len(s.shards))
	for k, rs := range rows {
		if len(rs) > 0 {
			if got[k], err = s.shards[k].rows(r, rs); err != nil {
				return err
			}
		}
	}
	next := make([]int, len(s.shards))
	for _, h := range all {
		cust := &got[h.shard][next[h.shard]]
		next[h.shard]++
		out.Items = append(out.Items, newItem(cust, r.access))
	}
	r.rows = len(out.Items)
	return s.writeJSON(r, out)
}
