package lake

import (
	"fmt"

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
)

// CDRFormat is the mediation export of calls, SMS and data sessions.
var CDRFormat = &Format{
	Prefix: "exports/cdr/",
	Table:  CDRTable,
	Columns: []Column{
		{"call_id", true}, {"subscriber_id", true}, {"msisdn", true}, {"other_party", true},
		{"other_network", false}, {"start_time", true}, {"duration_s", true}, {"call_type", true},
		{"direction", true}, {"roaming", true}, {"international", true}, {"cell_id", false},
		{"region", false}, {"data_kb", false}, {"charge", true},
	},
	newRows: func(fc fileContext, rb *array.RecordBuilder) rowAdder {
		return &cdrRows{fc: fc, rb: rb, ps: newPseudonymizer(fc.pseudonym)}
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
	rb *array.RecordBuilder
	ps *pseudonymizer
}

func (r *cdrRows) add(get func(int) string) (int, error) {
	callID, err := parseID(get(cdrCallID))
	if err != nil {
		return cdrCallID, err
	}
	sub, err := parseID(get(cdrSubscriberID))
	if err != nil {
		return cdrSubscriberID, err
	}
	msisdn, err := parseDigits(get(cdrMSISDN), 8, 15, "msisdn")
	if err != nil {
		return cdrMSISDN, err
	}
	network := "other"
	if s := get(cdrOtherNetwork); s != "" {
		if network, err = parseEnum(s, otherNetworks, nil); err != nil {
			return cdrOtherNetwork, err
		}
	}
	start, err := parseTimestamp(get(cdrStartTime), r.fc.now)
	if err != nil {
		return cdrStartTime, err
	}
	dur, err := parseInt(get(cdrDuration), 0, 86400)
	if err != nil {
		return cdrDuration, err
	}
	callType, err := parseEnum(get(cdrCallType), callTypes, nil)
	if err != nil {
		return cdrCallType, err
	}
	var other string
	if s := get(cdrOtherParty); s != "" || callType != "data" {
		if other, err = parseDigits(s, 3, 20, "other_party"); err != nil {
			return cdrOtherParty, err
		}
	}
	if callType == "sms" && dur != 0 {
		return cdrDuration, fmt.Errorf("must be 0 for an sms")
	}
	dir, err := parseEnum(get(cdrDirection), directions, directionAlts)
	if err != nil {
		return cdrDirection, err
	}
	roaming, err := parseBool(get(cdrRoaming))
	if err != nil {
		return cdrRoaming, err
	}
	intl, err := parseBool(get(cdrInternational))
	if err != nil {
		return cdrInternational, err
	}
	var cell string
	if s := get(cdrCellID); s != "" {
		if cell, err = parseID(s); err != nil {
			return cdrCellID, err
		}
	}
	region, err := parseText(get(cdrRegion), 64)
	if err != nil {
		return cdrRegion, err
	}
	var dataKB int64
	if s := get(cdrDataKB); s != "" {
		if dataKB, err = parseInt(s, 0, 100_000_000); err != nil {
			return cdrDataKB, err
		}
	}
	charge, err := parseMoney(get(cdrCharge), 4, 100_000_0000)
	if err != nil {
		return cdrCharge, err
	}

	rb := r.rb
	strB(rb, 0).Append(callID)
	strB(rb, 1).Append(sub)
	strB(rb, 2).Append(msisdn)
	if other == "" {
		strB(rb, 3).AppendNull()
	} else {
		strB(rb, 3).Append(r.ps.hash(other))
	}
	strB(rb, 4).Append(network)
	tsB(rb, 5).Append(arrow.Timestamp(start))
	i32B(rb, 6).Append(int32(dur))
	strB(rb, 7).Append(callType)
	strB(rb, 8).Append(dir)
	boolB(rb, 9).Append(roaming)
	boolB(rb, 10).Append(intl)
	appendOptString(strB(rb, 11), cell)
	appendOptString(strB(rb, 12), region)
	i64B(rb, 13).Append(dataKB)
	decB(rb, 14).Append(money(charge))
	strB(rb, 15).Append(r.fc.source)
	tsB(rb, 16).Append(arrow.Timestamp(r.fc.ingestedAt))
	return -1, nil
}
