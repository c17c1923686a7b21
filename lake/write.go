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
const rowGroupRows = 128 * 1024

// pipelineDepth is how many parsed batches may wait for the writer.
const pipelineDepth = 2

// writeDataFiles writes batches into data files of tbl without committing
// them, and returns the files written (also when it fails, so the caller
// can remove them). Parsing runs on its own goroutine, ahead of the writer.
//
// Batches arrive one partition each. They are written with iceberg-go's
// clustered writer, which keeps one Parquet file open at a time; when a
// batch belongs to a partition already closed in the current pass, the pass
// ends and a new one starts (more files for that partition, never more
// memory). A FileError from the batches stops the write and is not
// returned: the caller reads it from the parser.
func writeDataFiles(ctx context.Context, tbl *table.Table, sc *arrow.Schema, batches iter.Seq2[PartBatch, error]) ([]iceberg.DataFile, error) {
	ctx, cancel := context.WithCancel(ctx)
	src := prefetch(ctx, batches)
	defer func() {
		cancel()
		src.drain()
	}()

	var files []iceberg.DataFile
	for src.peek() {
		closed := map[int64]bool{}
		current, started := int64(0), false
		pass := func(yield func(arrow.RecordBatch, error) bool) {
			for src.peek() {
				it := src.head
				if it.err != nil {
					src.take()
					yield(nil, it.err)
					return
				}
				if started && it.b.Part != current {
					if closed[it.b.Part] {
						return // next pass
					}
					closed[current] = true
				}
				current, started = it.b.Part, true
				src.take()
				if !yield(it.b.Rec, nil) {
					return
				}
			}
		}
		for df, err := range table.WriteRecords(ctx, tbl, sc, pass,
			table.WithClusteredWrite(), table.WithParquetRowGroupLimit(rowGroupRows)) {
			if err != nil {
				var fe *FileError
				if errors.As(err, &fe) {
					return files, nil
				}
				return files, err
			}
			files = append(files, df)
		}
	}
	return files, nil
}

type item struct {
	b   PartBatch
	err error
}

// prefetcher runs an iterator on its own goroutine, pipelineDepth items ahead.
type prefetcher struct {
	ch   chan item
	head item
	has  bool
	done bool
}

func prefetch(ctx context.Context, seq iter.Seq2[PartBatch, error]) *prefetcher {
	p := &prefetcher{ch: make(chan item, pipelineDepth)}
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
func (p *prefetcher) peek() bool {
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

func (p *prefetcher) take() { p.has = false }

// drain releases what the writer did not consume (after a failure); the
// producer stops once the context is cancelled.
func (p *prefetcher) drain() {
	if p.has && p.head.b.Rec != nil {
		p.head.b.Rec.Release()
	}
	p.has = false
	for it := range p.ch {
		if it.b.Rec != nil {
			it.b.Rec.Release()
		}
	}
}
