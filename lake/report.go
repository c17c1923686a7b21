package lake

import "sort"

// Report is the reject report written to reports/<key>.errors.json.
//
// Every physical line of the file is accounted for: Lines = 1 (the header)
// + BlankLines + RowsOK + RowsDuplicate + RowsRejected, and each rejected line is in exactly
// one entry of Errors (a line or a range of lines) unless its reason's list
// was cut at Limits.ReportEntriesPerReason; ByReason counts every rejected
// line whatever was listed.
type Report struct {
	Source          string  `json:"source"`
	ETag            string  `json:"etag"`
	Table           string  `json:"table,omitempty"`
	Status          string  `json:"status"`
	Message         string  `json:"message,omitempty"`
	Lines           int64   `json:"lines"`
	BlankLines      int64   `json:"blank_lines"`
	RowsOK          int64   `json:"rows_ok"`
	RowsRejected    int64   `json:"rows_rejected"`
	RowsDuplicate   int64   `json:"rows_duplicate"`
	RejectThreshold float64 `json:"reject_threshold"`
	// LinesUnread counts the rejected lines left unvalidated once the file was
	// certain to be quarantined.
	LinesUnread int64         `json:"lines_unread,omitempty"`
	Warnings    []string      `json:"warnings,omitempty"`
	ByReason    []ReasonCount `json:"rejected_by_reason,omitempty"`
	Errors      []RowError    `json:"errors,omitempty"`
	// ErrorsListed is len(Errors); LinesListed is how many lines they cover,
	// below RowsRejected only when a reason's list was cut.
	ErrorsListed int   `json:"errors_listed"`
	LinesListed  int64 `json:"lines_listed"`
}

// ReasonCount counts rejected lines by column and reason.
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
	r.Lines, r.BlankLines = st.Lines, st.BlankLines
	r.Warnings = st.Warnings
	if st.FileErr != nil {
		return r // nothing of the file was taken: the message says why
	}
	r.LinesUnread = st.Unread
	r.Errors = st.Errors
	r.ErrorsListed = len(st.Errors)
	for _, e := range st.Errors {
		r.LinesListed += e.Lines()
	}
	for k, rc := range st.byReason {
		r.ByReason = append(r.ByReason, ReasonCount{Column: k[0], Reason: k[1], Rows: rc.lines})
	}
	sort.Slice(r.ByReason, func(i, j int) bool {
		if r.ByReason[i].Rows != r.ByReason[j].Rows {
			return r.ByReason[i].Rows > r.ByReason[j].Rows
		}
		return r.ByReason[i].Column+r.ByReason[i].Reason < r.ByReason[j].Column+r.ByReason[j].Reason
	})
	return r
}
