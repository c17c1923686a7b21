package features

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/telcolake/telcolake/lake"
)

// HighValueCharge is the charge, in units of 0.0001, from which a voice
// call counts as high-value (1.00).
const HighValueCharge = 10000

// usage is one subscriber's CDR totals for a month.
type usage struct {
	voiceCalls, voiceSecs int64
	sms                   int64
	dataKB                int64
	roaming, intl         int64
	peak, weekend         int64
	outVoice, offnetOut   int64
	highValue, care       int64
	contacts              int64
	days                  uint32 // bit d-1 set: usage on day d of the month
	charge                int64  // units of 0.0001
}

var cdrColumns = []string{"subscriber_id", "other_party_hash", "other_network", "start_time", "duration_s",
	"call_type", "direction", "roaming", "international", "data_kb", "charge", "region", "other_area"}

// aggregateWorkers is how many goroutines read and sum data files side by
// side (each with its own totals, merged at the end).
const aggregateWorkers = 2

// readDirect sends every data file through the direct reader it can take;
// tests turn it off to compare with the Arrow scan.
var readDirect = true

// aggregateUsage reads the month's CDR and sums it per subscriber in index
// (subscribers not in index are skipped). It returns the totals, indexed
// like index, the usage cube's sums (home and demo give each subscriber's
// home region and demographic cell) and the number of CDR rows read. For
// one bucket (keep ≥ 0) it reads only that bucket's data files. Workers
// read data files side by side (readCDRFile), each into its own totals,
// merged at the end; files the direct reader does not take go through
// iceberg-go's Arrow scan afterwards.
func aggregateUsage(ctx context.Context, tables lake.TableLoader, month time.Time, index map[string]int32, home []string, demo demographics, keep subset) ([]usage, *usageCubeAcc, int64, error) {
	from, to := month.UnixMicro(), month.AddDate(0, 1, 0).UnixMicro()
	filter := iceberg.NewAnd(
		iceberg.GreaterThanEqual(iceberg.Reference("start_time"), iceberg.Timestamp(from)),
		iceberg.LessThan(iceberg.Reference("start_time"), iceberg.Timestamp(to)))
	fail := func(err error) ([]usage, *usageCubeAcc, int64, error) {
		return nil, nil, 0, fmt.Errorf("features: cdr %s: %w", month.Format("2006-01"), err)
	}
	tbl, err := tables.LoadTable(ctx, lake.CDRTable.Ident())
	if err != nil {
		return fail(fmt.Errorf("load crm.cdr: %w", err))
	}
	sc := tbl.Scan(table.WithRowFilter(filter), table.WithSelectedFields(cdrColumns...), table.WithMaxConcurrency(aggregateWorkers))
	tasks, err := sc.PlanFiles(ctx)
	if err != nil {
		return fail(fmt.Errorf("plan crm.cdr: %w", err))
	}
	if keep >= 0 {
		tasks = lake.BucketTasks(tbl.Metadata(), tasks, int(keep)) // the bucket's data files alone
	}
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return fail(fmt.Errorf("crm.cdr file system: %w", err))
	}
	seed := maphash.MakeSeed() // one seed: workers' contact hashes must agree
	regions := regionCodes{}
	homeCodes := make([]int32, len(home))
	for i, h := range home {
		homeCodes[i] = regions.code([]byte(h))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	readers := make([]*cdrReader, aggregateWorkers)
	slow := make([][]table.FileScanTask, aggregateWorkers)
	errs := make([]error, aggregateWorkers)
	work := make(chan table.FileScanTask)
	var wg sync.WaitGroup
	for w := range readers {
		acc := &usageAcc{u: make([]usage, len(index)), parties: make([][]uint32, len(index)), index: index, seed: seed, from: from,
			cube: newUsageCubeAcc(home, demo)}
		readers[w] = &cdrReader{acc: acc, regions: regions.clone(), home: homeCodes, to: to}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range work {
				if errs[w] != nil {
					continue
				}
				err := errNotPlain
				if readDirect {
					err = readers[w].readCDRFile(ctx, fsys, t)
				}
				switch {
				case errors.Is(err, errNotPlain):
					slow[w] = append(slow[w], t)
				case err != nil:
					errs[w] = err
					cancel()
				}
			}
		}()
	}
feed:
	for _, t := range tasks {
		select {
		case work <- t:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if rest := slices.Concat(slow...); len(rest) > 0 {
		if err := addArrow(ctx, sc, rest, readers[0]); err != nil {
			return fail(err)
		}
	}
	var rows int64
	accs := make([]*usageAcc, len(readers))
	for w, r := range readers {
		accs[w] = r.acc
		rows += r.n
	}
	for _, a := range accs[1:] {
		accs[0].cube.merge(a.cube)
	}
	return mergeUsage(accs), accs[0].cube, rows, nil
}

// addArrow reads tasks through iceberg-go's Arrow scan (the row filter
// applied, delete files too) into r.
func addArrow(ctx context.Context, sc *table.Scan, tasks []table.FileScanTask, r *cdrReader) error {
	_, recs, err := sc.ReadTasks(ctx, tasks)
	if err != nil {
		return fmt.Errorf("scan crm.cdr: %w", err)
	}
	for rec, err := range recs {
		if err != nil {
			return fmt.Errorf("scan crm.cdr: %w", err)
		}
		err = r.addBatch(lake.NewBatch(rec, "crm.cdr"))
		rec.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// mergeUsage adds the workers' totals into the first and counts each
// subscriber's distinct contacts over all workers' contact hashes.
func mergeUsage(accs []*usageAcc) []usage {
	out := accs[0].u
	parties := accs[0].parties
	for _, a := range accs[1:] {
		for i := range out {
			o, x := &out[i], &a.u[i]
			o.voiceCalls += x.voiceCalls
			o.voiceSecs += x.voiceSecs
			o.sms += x.sms
			o.dataKB += x.dataKB
			o.roaming += x.roaming
			o.intl += x.intl
			o.peak += x.peak
			o.weekend += x.weekend
			o.outVoice += x.outVoice
			o.offnetOut += x.offnetOut
			o.highValue += x.highValue
			o.care += x.care
			o.days |= x.days
			o.charge += x.charge
			parties[i] = append(parties[i], a.parties[i]...)
		}
	}
	var wg sync.WaitGroup
	chunk := (len(out) + aggregateWorkers - 1) / aggregateWorkers
	for lo := 0; lo < len(out); lo += chunk {
		hi := min(lo+chunk, len(out))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				p := parties[i]
				slices.Sort(p)
				out[i].contacts = int64(len(slices.Compact(p)))
			}
		}()
	}
	wg.Wait()
	return out
}

type usageAcc struct {
	u       []usage
	parties [][]uint32 // per subscriber: 32-bit hashes of contacts, with repeats
	index   map[string]int32
	seed    maphash.Seed
	from    int64 // month start, µs
	cube    *usageCubeAcc
}
