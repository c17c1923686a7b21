package lake

import (
	"context"
	"errors"
	"iter"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// rowGroupRows caps a Parquet row group; with one open writer at a time it
// bounds the writer's buffered memory.
const rowGroupRows = 64 * 1024

// pipelineDepth is how many parsed batches may wait for the writer.
const pipelineDepth = 2

// writeLanes is how many clustered writers run side by side; partition p
// goes to lane p mod writeLanes.
const writeLanes = 2

// laneDepth is how many batches may wait for one lane's writer.
const laneDepth = 4

// writeDataFiles writes batches into data files of tbl without committing
// them, and returns the files written (also when it fails, so the caller
// can remove them). Parsing runs on its own goroutine, ahead of the writers.
//
// Batches arrive one partition each. Partitions come in groups of
// SubscriberBuckets (a day of crm.cdr is 8 partitions, one per subscriber
// bucket, whose rows arrive interleaved); each lane writes one group per
// pass with iceberg-go's fanout writer, so at most a group's 8 Parquet
// files are open at a time, and a pass ends when the group changes (a
// group seen again later gets more files, never more memory). Lanes split
// groups by parity, so for time-sorted input two consecutive days are
// encoded in parallel. A FileError from the batches stops the write and is
// not returned: the caller reads it from the parser.
func writeDataFiles(ctx context.Context, tbl *table.Table, sc *arrow.Schema, batches iter.Seq2[PartBatch, error]) ([]iceberg.DataFile, error) {
	return runLanes(ctx, tbl, sc, batches, nil)
}

// writePartFiles is writeDataFiles for batches whose rows each fall in the
// partition their Part key names (the parser's): each lane writes them
// straight into one data file per partition (partWriter.writeStream, the
// files of its last maxOpenGroups groups open), not through iceberg-go's
// fan-out writer.
func writePartFiles(ctx context.Context, tbl *table.Table, sc *arrow.Schema, batches iter.Seq2[PartBatch, error]) ([]iceberg.DataFile, error) {
	pw, err := newPartWriter(ctx, tbl, sc)
	if err != nil {
		return nil, err // the batches were not started
	}
	return runLanes(ctx, tbl, sc, batches, pw)
}

// runLanes runs the lanes of writeDataFiles; pw, when set, writes each
// lane's batches instead of iceberg-go's writer.
func runLanes(ctx context.Context, tbl *table.Table, sc *arrow.Schema, batches iter.Seq2[PartBatch, error], pw *partWriter) ([]iceberg.DataFile, error) {
	ctx, cancel := context.WithCancel(ctx)
	src := prefetch(ctx, batches)
	dispatched := make(chan struct{})
	defer func() {
		cancel()
		<-dispatched // the dispatcher is src's only reader until it stops
		src.drain()
	}()

	lanes := make([]chan item, writeLanes)
	for i := range lanes {
		lanes[i] = make(chan item, laneDepth)
	}
	go func() { // dispatch
		defer close(dispatched)
		defer func() {
			for _, l := range lanes {
				close(l)
			}
		}()
		for src.peek() {
			it := src.head
			src.take()
			lane := 0
			if it.err == nil {
				lane = int(((partGroup(it.b.Part) % writeLanes) + writeLanes) % writeLanes)
			}
			select {
			case lanes[lane] <- it:
			case <-ctx.Done():
				release(it)
				return
			}
		}
	}()

	type laneResult struct {
		files []iceberg.DataFile
		err   error
	}
	results := make(chan laneResult, writeLanes)
	for _, l := range lanes {
		go func() {
			p := &peeker{ch: l}
			files, err := writePasses(ctx, tbl, sc, p, pw)
			if err != nil {
				cancel() // stop the parser and the other lane
			}
			p.drain() // until the dispatcher closes the lane
			results <- laneResult{files, err}
		}()
	}
	var files []iceberg.DataFile
	var errs []error
	for range lanes {
		r := <-results
		files = append(files, r.files...)
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	return files, errors.Join(errs...)
}

// partGroup is the group of a partition key: a day of crm.cdr for its
// day × SubscriberBuckets + bucket keys.
func partGroup(part int64) int64 {
	g := part / SubscriberBuckets
	if part < 0 && part%SubscriberBuckets != 0 {
		g--
	}
	return g
}

// writePasses writes one lane's batches: with pw as one stream, else a
// pass per partition group through iceberg-go's writer.
func writePasses(ctx context.Context, tbl *table.Table, sc *arrow.Schema, src *peeker, pw *partWriter) ([]iceberg.DataFile, error) {
	if pw != nil {
		files, err := pw.writeStream(ctx, func(yield func(PartBatch, error) bool) {
			for src.peek() {
				it := src.head
				src.take()
				if !yield(it.b, it.err) || it.err != nil {
					return
				}
			}
		})
		var fe *FileError
		if errors.As(err, &fe) {
			return files, nil
		}
		if err == nil {
			err = ctx.Err()
		}
		return files, err
	}
	var files []iceberg.DataFile
	for src.peek() {
		current, started := int64(0), false
		parts := func(yield func(PartBatch, error) bool) {
			for src.peek() {
				it := src.head
				if it.err != nil {
					src.take()
					yield(PartBatch{}, it.err)
					return
				}
				if g := partGroup(it.b.Part); started && g != current {
					return // next pass
				} else {
					current, started = g, true
				}
				src.take()
				if !yield(it.b, nil) {
					return
				}
			}
		}
		pass := func(yield func(arrow.RecordBatch, error) bool) {
			for b, err := range parts {
				if !yield(b.Rec, err) || err != nil {
					return
				}
			}
		}
		for df, err := range table.WriteRecords(ctx, tbl, sc, pass,
			table.WithMaxWriteWorkers(1), table.WithParquetRowGroupLimit(rowGroupRows)) {
			if err != nil {
				var fe *FileError
				if errors.As(err, &fe) {
					return files, nil
				}
				return files, err
			}
			files = append(files, df)
		}
		if err := ctx.Err(); err != nil {
			return files, err
		}
	}
	return files, nil
}

type item struct {
	b   PartBatch
	err error
}

func release(it item) {
	if it.b.Rec != nil {
		it.b.Rec.Release()
	}
}

// peeker reads items from a channel with one item of look-ahead.
type peeker struct {
	ch   chan item
	head item
	has  bool
	done bool
}

// prefetch runs an iterator on its own goroutine, pipelineDepth items ahead.
func prefetch(ctx context.Context, seq iter.Seq2[PartBatch, error]) *peeker {
	p := &peeker{ch: make(chan item, pipelineDepth)}
	go func() {
		defer close(p.ch)
		for b, err := range seq {
			select {
			case p.ch <- item{b, err}:
			case <-ctx.Done():
				if b.Rec != nil {
					b.Rec.Release()
				}
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return p
}

// peek reports whether there is a next item, loading it into head.
func (p *peeker) peek() bool {
	if p.has {
		return true
	}
	if p.done {
		return false
	}
	it, ok := <-p.ch
	if !ok {
		p.done = true
		return false
	}
	p.head, p.has = it, true
	return true
}

func (p *peeker) take() { p.has = false }

// drain releases what was not consumed (after a failure); the producer
// stops once the context is cancelled.
func (p *peeker) drain() {
	if p.has {
		release(p.head)
	}
	p.has = false
	for it := range p.ch {
		release(it)
	}
}
