package features

import (
	"context"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"github.com/apache/iceberg-go"

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

// aggregateWorkers is how many goroutines sum record batches side by side
// (each with its own totals, merged at the end).
const aggregateWorkers = 2

// aggregateUsage scans the month's CDR partitions and sums them per
// subscriber in index (subscribers not in index are skipped). It returns
// the totals, indexed like index, the usage cube's sums (home and demo give
// each subscriber's home region and demographic cell) and the number of CDR
// rows read. For one bucket (keep ≥ 0) it reads only that bucket's data
// files.
func aggregateUsage(ctx context.Context, tables lake.TableLoader, month time.Time, index map[string]int32, home []string, demo demographics, keep subset) ([]usage, *usageCubeAcc, int64, error) {
	from, to := month.UnixMicro(), month.AddDate(0, 1, 0).UnixMicro()
	filter := iceberg.NewAnd(
		iceberg.GreaterThanEqual(iceberg.Reference("start_time"), iceberg.Timestamp(from)),
		iceberg.LessThan(iceberg.Reference("start_time"), iceberg.Timestamp(to)))
	opts := []lake.ScanOption{lake.Select(cdrColumns...), lake.Where(filter)}
	if keep >= 0 {
		opts = append(opts, lake.InBucket(int(keep))) // the bucket's data files alone
	}
	seed := maphash.MakeSeed() // one seed: workers' contact hashes must agree
	accs := make([]*usageAcc, aggregateWorkers)
	batches := make(chan *lake.Batch, 2*aggregateWorkers)
	errs := make(chan error, aggregateWorkers)
	var wg sync.WaitGroup
	for w := range accs {
		accs[w] = &usageAcc{u: make([]usage, len(index)), parties: make([][]uint32, len(index)), index: index, seed: seed, from: from,
			cube: newUsageCubeAcc(home, demo)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var failed error
			for rec := range batches {
				if failed == nil {
					failed = accs[w].add(rec)
				}
				rec.Release()
			}
			errs <- failed
		}()
	}
	var rows int64
	var scanErr error
	for b, err := range lake.Scan(ctx, tables, lake.CDRTable, opts...) {
		if err != nil {
			scanErr = fmt.Errorf("features: cdr %s: %w", month.Format("2006-01"), err)
			break
		}
		rows += int64(b.Len())
		b.Retain() // a worker releases it
		batches <- b
	}
	close(batches)
	wg.Wait()
	for range accs {
		if err := <-errs; err != nil && scanErr == nil {
			scanErr = err
		}
	}
	if scanErr != nil {
		return nil, nil, 0, scanErr
	}
	for _, a := range accs[1:] {
		accs[0].cube.merge(a.cube)
	}
	return mergeUsage(accs), accs[0].cube, rows, nil
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

func (a *usageAcc) add(b *lake.Batch) error {
	ids, party, network := b.String("subscriber_id"), b.String("other_party_hash"), b.String("other_network")
	kind, dir, start := b.String("call_type"), b.String("direction"), b.Time("start_time")
	dur, roam, intl, dataKB := b.Int32("duration_s"), b.Bool("roaming"), b.Bool("international"), b.Int64("data_kb")
	charge, cellRegion := b.Money("charge", 4), b.String("region")
	// other_area is null in rows written before the column existed.
	area := b.String("other_area")
	if err := b.Err(); err != nil {
		return fmt.Errorf("features: %w", err)
	}
	for i := range b.Len() {
		si, ok := a.index[ids.Value(i)]
		if !ok {
			continue
		}
		u := &a.u[si]
		us := start.Micros(i)
		sec := us / 1e6
		day := sec / 86400
		u.days |= 1 << uint((us-a.from)/86400e6)
		var c int64
		if !charge.IsNull(i) {
			c = charge.Value(i)
		}
		u.charge += c
		net := network.Value(i)
		switch kind.Value(i) {
		case "voice":
			u.voiceCalls++
			u.voiceSecs += int64(dur.Value(i))
			if roam.Value(i) {
				u.roaming++
			}
			if intl.Value(i) {
				u.intl++
			}
			// 1970-01-01 was a Thursday: (day+3)%7 is 0 on Mondays.
			wd := (day + 3) % 7
			hour := (sec / 3600) % 24
			switch {
			case wd >= 5:
				u.weekend++
			case hour >= 8 && hour < 20:
				u.peak++
			}
			dayType := 0
			if wd >= 5 {
				dayType = 1
			}
			var otherArea, cell string
			if !area.IsNull(i) {
				otherArea = area.Value(i)
			}
			if !cellRegion.IsNull(i) {
				cell = cellRegion.Value(i)
			}
			a.cube.add(si, int(hour), dayType, callKind(roam.Value(i), intl.Value(i), net, otherArea, cell, a.cube.home[si]),
				int64(dur.Value(i)))
			if dir.Value(i) == "out" {
				u.outVoice++
				if net == "offnet" {
					u.offnetOut++
				}
			}
			if c >= HighValueCharge {
				u.highValue++
			}
			if net == "care" {
				u.care++
				continue // the care line is not a contact
			}
		case "sms":
			u.sms++
		default:
			u.dataKB += dataKB.Value(i)
			continue
		}
		if party.IsNull(i) {
			continue
		}
		a.parties[si] = append(a.parties[si], uint32(maphash.String(a.seed, party.Value(i))))
	}
	return nil
}
