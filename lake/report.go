package lake

import "sort"

// Report is the reject report written to reports/<key>.errors.json.
type Report struct {
	Source          string        `json:"source"`
	ETag            string        `json:"etag"`
	Table           string        `json:"table,omitempty"`
	Status          string        `json:"status"`
	Message         string        `json:"message,omitempty"`
	RowsOK          int64         `json:"rows_ok"`
	RowsRejected    int64         `json:"rows_rejected"`
	RowsDuplicate   int64         `json:"rows_duplicate"`
	RejectThreshold float64       `json:"reject_threshold"`
	Warnings        []string      `json:"warnings,omitempty"`
	ByReason        []ReasonCount `json:"rejected_by_reason,omitempty"`
	Errors          []RowError    `json:"errors,omitempty"`
	// ErrorsListed is len(Errors); it is below RowsRejected only when the
	// list was cut at its bound, and ByReason still counts every row.
	ErrorsListed int `json:"errors_listed"`
}

// ReasonCount counts rejected rows by column and reason.
type ReasonCount struct {
	Column string `json:"column,omitempty"`
	Reason string `json:"reason"`
	Rows   int64  `json:"rows"`
}

func newReport(obj Object, res Result, st *ParseStats, threshold float64) Report {
	r := Report{
		Source: res.Source, ETag: obj.ETag, Table: res.Table, Status: res.Status, Message: res.Message,
		RowsOK: res.RowsOK, RowsRejected: res.RowsRejected, RowsDuplicate: res.RowsDuplicate, RejectThreshold: threshold,
	}
	if st == nil {
		return r
	}
	r.Warnings = st.Warnings
	r.Errors = st.Errors
	r.ErrorsListed = len(st.Errors)
	for k, n := range st.byReason {
		r.ByReason = append(r.ByReason, ReasonCount{Column: k[0], Reason: k[1], Rows: n})
	}
	sort.Slice(r.ByReason, func(i, j int) bool {
		if r.ByReason[i].Rows != r.ByReason[j].Rows {
			return r.ByReason[i].Rows > r.ByReason[j].Rows
		}
		return r.ByReason[i].Column+r.ByReason[i].Reason < r.ByReason[j].Column+r.ByReason[j].Reason
	})
	return r
}
