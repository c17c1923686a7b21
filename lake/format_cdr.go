package lake

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// CSV columns of the CDR export, in documented order.
const (
	cdrCallID = iota
	cdrSubscriberID
	cdrMSISDN
	cdrOtherParty
	cdrOtherNetwork
	cdrStartTime
	cdrDuration
	cdrCallType
	cdrDirection
	cdrRoaming
	cdrInternational
	cdrCellID
	cdrRegion
	cdrDataKB
	cdrCharge
	cdrOtherArea
)

// CDRFormat is the mediation export of calls, SMS and data sessions.
var CDRFormat = &Format{
	Prefix: "exports/cdr/",
	Table:  CDRTable,
	Columns: []Column{
		{"call_id", true}, {"subscriber_id", true}, {"msisdn", true}, {"other_party", true},
		{"other_network", false}, {"start_time", true}, {"duration_s", true}, {"call_type", true},
		{"direction", true}, {"roaming", true}, {"international", true}, {"cell_id", false},
		{"region", false}, {"data_kb", false}, {"charge", true}, {"other_area", false},
	},
	newRows: func(fc fileContext) rowParser {
		return &cdrRows{fc: fc, ps: newPseudonymizer(fc.pseudonym)}
	},
}

var (
	otherNetworks = []string{"onnet", "offnet", "fixed", "international", "care", "other"}
	callTypes     = []string{"voice", "sms", "data"}
	directions    = []string{"out", "in"}
	directionAlts = map[string]string{"mo": "out", "mt": "in", "outgoing": "out", "incoming": "in"}
)

type cdrRows struct {
	fc fileContext
	ps *pseudonymizer
	// consts are the batches' source_file and ingested_at columns.
	consts constCols
	// pools keep the buffers of released batches for new ones.
	pools *cdrPools
	// the pending row, and the room of the line its strings are fields
	// of (record.room)
	room                                                                   string
	callID, sub, msisdn, other, network, callType, dir, cell, region, area string
	start, dur, dataKB, charge                                             int64
	roaming, intl                                                          bool
}

// microsPerDay turns start_time into its day(start_time) partition; the
// parser's partition key is day × SubscriberBuckets + bucket(subscriber_id).
const microsPerDay = 86400 * 1_000_000

func (r *cdrRows) parse(rec *record) (int64, int, error) {
	var err error
	r.room, r.other, r.cell = rec.room, "", ""
	r.callID, err = parseID(rec.get(cdrCallID))
	if err != nil {
		return 0, cdrCallID, err
	}
	r.sub, err = parseID(rec.get(cdrSubscriberID))
	if err != nil {
		return 0, cdrSubscriberID, err
	}
	r.msisdn, err = parseDigits(rec.get(cdrMSISDN), 8, 15, "msisdn")
	if err != nil {
		return 0, cdrMSISDN, err
	}
	r.network = "other"
	if s := rec.get(cdrOtherNetwork); s != "" {
		if r.network, err = parseEnumIn(s, otherNetworks, nil); err != nil {
			return 0, cdrOtherNetwork, err
		}
	}
	r.start, err = parseTimestamp(rec.get(cdrStartTime), r.fc.now)
	if err != nil {
		return 0, cdrStartTime, err
	}
	r.dur, err = parseInt(rec.get(cdrDuration), 0, 86400)
	if err != nil {
		return 0, cdrDuration, err
	}
	r.callType, err = parseEnumIn(rec.get(cdrCallType), callTypes, nil)
	if err != nil {
		return 0, cdrCallType, err
	}
	if s := rec.get(cdrOtherParty); s != "" || r.callType != "data" {
		if r.other, err = parseDigits(s, 3, 20, "other_party"); err != nil {
			return 0, cdrOtherParty, err
		}
	}
	if r.callType == "sms" && r.dur != 0 {
		return 0, cdrDuration, fmt.Errorf("must be 0 for an sms")
	}
	r.dir, err = parseEnumIn(rec.get(cdrDirection), directions, directionAlts)
	if err != nil {
		return 0, cdrDirection, err
	}
	r.roaming, err = parseBool(rec.get(cdrRoaming))
	if err != nil {
		return 0, cdrRoaming, err
	}
	r.intl, err = parseBool(rec.get(cdrInternational))
	if err != nil {
		return 0, cdrInternational, err
	}
	if s := rec.get(cdrCellID); s != "" {
		if r.cell, err = parseID(s); err != nil {
			return 0, cdrCellID, err
		}
	}
	r.region, err = parseText(rec.get(cdrRegion), 64)
	if err != nil {
		return 0, cdrRegion, err
	}
	r.dataKB = 0
	if s := rec.get(cdrDataKB); s != "" {
		if r.dataKB, err = parseInt(s, 0, 100_000_000); err != nil {
			return 0, cdrDataKB, err
		}
	}
	r.charge, err = parseMoney(rec.get(cdrCharge), 4, 100_000_0000)
	if err != nil {
		return 0, cdrCharge, err
	}
	if r.area, err = parseArea(rec.get(cdrOtherArea), r.network, r.intl); err != nil {
		return 0, cdrOtherArea, err
	}
	day := r.start / microsPerDay
	if r.start < 0 && r.start%microsPerDay != 0 {
		day--
	}
	return day*SubscriberBuckets + int64(SubscriberBucket(r.sub)), -1, nil
}

func (r *cdrRows) key() (int64, string) { return floorDiv(r.start, microsPerDay), r.callID }

func (r *cdrRows) appendTo(rb *array.RecordBuilder) {
	strB(rb, 0).Append(r.callID)
	strB(rb, 1).Append(r.sub)
	strB(rb, 2).Append(r.msisdn)
	if r.other == "" {
		strB(rb, 3).AppendNull()
	} else {
		strB(rb, 3).BinaryBuilder.Append(r.ps.hashBytes(r.other))
	}
	strB(rb, 4).Append(r.network)
	tsB(rb, 5).Append(arrow.Timestamp(r.start))
	i32B(rb, 6).Append(int32(r.dur))
	strB(rb, 7).Append(r.callType)
	strB(rb, 8).Append(r.dir)
	boolB(rb, 9).Append(r.roaming)
	boolB(rb, 10).Append(r.intl)
	appendOptString(strB(rb, 11), r.cell)
	appendOptString(strB(rb, 12), r.region)
	i64B(rb, 13).Append(r.dataKB)
	decB(rb, 14).Append(money(r.charge))
	strB(rb, 15).Append(r.fc.source)
	tsB(rb, 16).Append(arrow.Timestamp(r.fc.ingestedAt))
	appendOptString(strB(rb, 17), r.area)
}

// maxAreaLen bounds other_area, like region.
const maxAreaLen = 64

// parseArea validates other_area: empty (not delivered or not known), or
// an area name of printable text without surrounding spaces. A foreign
// number has no domestic area, so a call to one (other_network
// international or the international flag) must leave it empty.
func parseArea(s, network string, intl bool) (string, error) {
	if s == "" {
		return "", nil
	}
	if strings.TrimSpace(s) != s {
		return "", fmt.Errorf("area has leading or trailing spaces")
	}
	if _, err := parseText(s, maxAreaLen); err != nil {
		return "", err
	}
	if intl || network == "international" {
		return "", fmt.Errorf("must be empty for an international call (a foreign number has no domestic area)")
	}
	return s, nil
}
