package api

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/telcolake/telcolake/models/serving"
)

// LiveConfig configures a Live.
type LiveConfig struct {
	// Store holds the serving snapshots (latest.json and the runs).
	Store serving.Source
	// NotFound reports whether a Store error means a missing file.
	NotFound func(error) bool
	// Sources answer model runs and ingested files; may be nil.
	Sources Sources
	// Config configures every Server built from a snapshot.
	Config Config
	// Every is how often an instance looks for a newer run: at most one
	// read of latest.json per interval (default one minute).
	Every time.Duration
	// CacheBytes bounds each snapshot's cached detail records
	// (serving.DefaultCacheBytes by default).
	CacheBytes int
	// Now is the clock (time.Now by default).
	Now func() time.Time
	// Shard and Shards, with Shards 2 or more: this instance serves shard
	// Shard of Shards of runs written in that many shards
	// (serving.WriteSharded) and reads only that shard's files.
	Shard, Shards int
	// Front, when set, makes this instance a sharded front: it reads a
	// run's metadata only and answers by fanning out to Front[k], which
	// serves shard k of len(Front) (NewFront).
	Front []Shard
}

// Live answers the API from the newest snapshot in a store, for the api
// function. A request is routed and its key and role checked before
// anything is read: anonymous, bad-key, forbidden or unknown-path requests
// cost no store read (nor does /healthz or /v1/openapi.json). The first
// admitted request loads the snapshot; later ones look at latest.json at
// most once per Every, and load a run only if its id differs from the one
// in memory. The old snapshot is dropped before the new one loads, so an
// instance never holds two (a request still answering from the old one
// keeps it alive until it finishes). A new run that fails to load leaves
// the previous one answering: it is read again, and the broken run is
// retried only after retryBroken intervals. Live is safe for concurrent use;
// requests wait while a snapshot loads.
type Live struct {
	cfg   LiveConfig
	front *Server

	mu      sync.Mutex
	srv     *Server
	ptr     serving.Pointer // srv's run
	checked time.Time       // last look at latest.json
	failed  error           // the last failed load's error, retried after Every
	badRun  string          // a run that failed to load while an older one was loaded
	badAt   time.Time       // when it failed
	loads   int
}

// retryBroken is how many intervals (Every) a run that failed to load is
// left alone while the previous one answers.
const retryBroken = 10

// open opens the snapshot p points to and makes it the loaded one: the
// whole, this instance's shard, or on a front the run's metadata.
func (l *Live) open(ctx context.Context, p serving.Pointer) error {
	t := time.Now()
	opt := serving.Options{CacheBytes: l.cfg.CacheBytes}
	var srv *Server
	var err error
	customers := 0
	switch {
	case len(l.cfg.Front) > 0:
		var meta *serving.Meta
		if meta, err = serving.ReadMeta(ctx, l.cfg.Store, p); err != nil {
			return err
		}
		srv, err = NewFront(meta, l.cfg.Front, l.cfg.Sources, l.cfg.Config)
		customers = meta.Customers
	default:
		var snap *serving.Snapshot
		if l.cfg.Shards > 1 {
			snap, err = serving.OpenShard(ctx, l.cfg.Store, p, l.cfg.Shard, l.cfg.Shards, opt)
		} else {
			snap, err = serving.Open(ctx, l.cfg.Store, p, opt)
		}
		if err != nil {
			return err
		}
		srv, err = New(snap, l.cfg.Sources, l.cfg.Config)
		customers = snap.Len()
	}
	if err != nil {
		return err
	}
	l.srv, l.ptr = srv, p
	l.loads++
	attrs := []any{"run", p.Run, "customers", customers, "seconds", time.Since(t).Seconds()}
	switch {
	case len(l.cfg.Front) > 0:
		attrs = append(attrs, "front", true, "shards", len(l.cfg.Front))
	case l.cfg.Shards > 1:
		attrs = append(attrs, "shard", l.cfg.Shard, "shards", l.cfg.Shards)
	}
	l.cfg.Config.Log.InfoContext(ctx, "api: snapshot loaded", attrs...)
	return nil
}

// NewLive checks the configuration (keys first) and returns a Live with
// nothing loaded.
func NewLive(cfg LiveConfig) (*Live, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("api: live: no snapshot store")
	}
	if cfg.Every <= 0 {
		cfg.Every = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Shards < 0 || cfg.Shards > serving.MaxShards || cfg.Shards > 1 && (cfg.Shard < 0 || cfg.Shard >= cfg.Shards) {
		return nil, fmt.Errorf("api: live: shard %d of %d: want 0 <= shard < shards, 2 to %d shards", cfg.Shard, cfg.Shards, serving.MaxShards)
	}
	if len(cfg.Front) > 0 && cfg.Shards > 1 {
		return nil, fmt.Errorf("api: live: an instance is a front or a shard, not both")
	}
	front, err := newFront(cfg.Sources, cfg.Config)
	if err != nil {
		return nil, err
	}
	cfg.Config = front.cfg // with defaults and the cursor key, shared by every snapshot's server
	l := &Live{cfg: cfg, front: front}
	front.load = l.server
	front.reload = func(ctx context.Context) (*Server, error) {
		l.mu.Lock()
		l.checked = time.Time{}
		l.mu.Unlock()
		return l.server(ctx, true)
	}
	return l, nil
}

// ServeHTTP serves one request (as Server.ServeHTTP).
func (l *Live) ServeHTTP(w http.ResponseWriter, r *http.Request) { l.front.ServeHTTP(w, r) }

// Loads is the number of snapshots loaded so far.
func (l *Live) Loads() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.loads
}

// server returns the server of the newest snapshot, loading it if needed.
// Without refresh it returns the loaded one (nil if none) without reading.
func (l *Live) server(ctx context.Context, refresh bool) (*Server, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Now()
	if !refresh || now.Sub(l.checked) < l.cfg.Every && (l.srv != nil || l.failed != nil) {
		if l.srv == nil && refresh {
			return nil, l.failed
		}
		return l.srv, nil
	}
	l.checked = now
	log := l.cfg.Config.Log
	p, err := serving.Latest(ctx, l.cfg.Store, l.cfg.NotFound)
	if err != nil {
		if l.srv != nil {
			log.WarnContext(ctx, "api: keeping the loaded snapshot", "run", l.srv.meta.Run, "err", err)
			return l.srv, nil
		}
		return nil, err // not remembered: reading the pointer again is cheap
	}
	if l.srv != nil && p.Run == l.srv.meta.Run {
		return l.srv, nil
	}
	if l.srv != nil && p.Run == l.badRun && now.Sub(l.badAt) < retryBroken*l.cfg.Every {
		return l.srv, nil // that run failed to load; the loaded one answers until it is retried
	}
	var prev *serving.Pointer
	if l.srv != nil {
		// Never two snapshots: let the old one go before reading the new.
		log.InfoContext(ctx, "api: new run, dropping the loaded snapshot", "run", l.srv.meta.Run, "new_run", p.Run)
		pv := l.ptr // a copy: the old Snapshot must not stay reachable
		prev = &pv
		l.srv = nil
		runtime.GC()
		debug.FreeOSMemory()
	}
	err = l.open(ctx, p)
	if err != nil && prev != nil && ctx.Err() == nil {
		// The new run is broken: answer from the previous one again (read
		// once more, not held beside the new), and retry the new one only
		// after retryBroken intervals.
		log.WarnContext(ctx, "api: new run could not be loaded, reloading the previous one", "run", p.Run, "previous_run", prev.Run, "err", err)
		l.badRun, l.badAt = p.Run, now
		if err = l.open(ctx, *prev); err == nil {
			return l.srv, nil
		}
	}
	if err != nil {
		if ctx.Err() == nil {
			l.failed = err // a broken run is not read again before Every
		}
		return nil, err
	}
	l.failed, l.badRun = nil, ""
	return l.srv, nil
}
