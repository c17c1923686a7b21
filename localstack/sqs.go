package localstack

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SQS is an in-process queue service speaking the SQS JSON 1.0 protocol
// (X-Amz-Target: AmazonSQS.<Operation>, application/x-amz-json-1.0) that
// the AWS SDK for Go v2 uses: CreateQueue, GetQueueUrl, ListQueues,
// GetQueueAttributes, SetQueueAttributes, SendMessage(Batch),
// ReceiveMessage (visibility timeout, long polling with WaitTimeSeconds,
// ApproximateReceiveCount), DeleteMessage(Batch), ChangeMessageVisibility
// and PurgeQueue. A queue with a RedrivePolicy moves a message to its
// dead-letter queue when it would be received more than maxReceiveCount
// times, as SQS does. Messages live in memory: a restart of the stack
// empties the queues. Standard queues only (no FIFO, no message attributes).
type SQS struct {
	mu       sync.Mutex
	queues   map[string]*sqsQueue // by name
	endpoint string
	now      func() time.Time
	// changed is closed (and replaced) whenever a message may have become
	// receivable, waking long polls.
	changed chan struct{}
	// onDeadLetter, when set, is told of every message moved to a
	// dead-letter queue.
	onDeadLetter func(from, to string, body string, receives int)
}

type sqsQueue struct {
	name       string
	attrs      map[string]string
	created    time.Time
	msgs       []*sqsMessage // in send order
	visibility time.Duration
	dlq        string // name of the dead-letter queue, "" without redrive
	maxRecv    int
}

type sqsMessage struct {
	id, body, md5 string
	sent          time.Time
	firstRecv     time.Time
	visibleAt     time.Time
	receives      int
	receipt       string // of the latest receive
}

// NewSQS returns a queue service whose queue URLs start with endpoint
// (the address it is served on).
func NewSQS(endpoint string) *SQS {
	return &SQS{queues: map[string]*sqsQueue{}, endpoint: strings.TrimRight(endpoint, "/"), now: time.Now, changed: make(chan struct{})}
}

// sqsError is an SQS error: its __type names the shape the SDK maps to a
// typed error (QueueDoesNotExist, ReceiptHandleIsInvalid, ...).
type sqsError struct {
	status int
	code   string
	msg    string
}

func (e *sqsError) Error() string { return e.code + ": " + e.msg }

func errInvalid(format string, a ...any) *sqsError {
	return &sqsError{http.StatusBadRequest, "InvalidParameterValue", fmt.Sprintf(format, a...)}
}

func (s *SQS) queueURL(name string) string { return s.endpoint + "/" + AccountID + "/" + name }

// QueueARN is the ARN of a queue by name.
func QueueARN(name string) string { return "arn:aws:sqs:" + Region + ":" + AccountID + ":" + name }

// ServeHTTP answers one SQS JSON request.
func (s *SQS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	if r.Method != http.MethodPost || !ok {
		writeSQSError(w, &sqsError{http.StatusBadRequest, "UnsupportedOperation",
			"this local SQS speaks the JSON protocol only (POST with X-Amz-Target: AmazonSQS.<Operation>)"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 2<<20))
	if err != nil {
		writeSQSError(w, errInvalid("read request: %v", err))
		return
	}
	out, err := s.call(r.Context(), op, body)
	if err != nil {
		se, ok := err.(*sqsError)
		if !ok {
			se = &sqsError{http.StatusInternalServerError, "InternalError", err.Error()}
		}
		writeSQSError(w, se)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	json.NewEncoder(w).Encode(out)
}

func writeSQSError(w http.ResponseWriter, e *sqsError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("x-amzn-query-error", e.code+";Sender")
	w.WriteHeader(e.status)
	json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.sqs#" + e.code, "message": e.msg})
}

// call runs one operation on its JSON input.
func (s *SQS) call(ctx context.Context, op string, body []byte) (any, error) {
	var in struct {
		QueueName, QueueUrl, MessageBody, ReceiptHandle string
		Attributes                                      map[string]string
		AttributeNames, MessageSystemAttributeNames     []string
		DelaySeconds, MaxNumberOfMessages               int
		VisibilityTimeout, WaitTimeSeconds              *int
		QueueNamePrefix                                 string
		Entries                                         []struct {
			Id, MessageBody, ReceiptHandle string
			DelaySeconds                   int
		}
	}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, errInvalid("request body: %v", err)
		}
	}
	switch op {
	case "CreateQueue":
		return s.createQueue(in.QueueName, in.Attributes)
	case "GetQueueUrl":
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.queues[in.QueueName]; !ok {
			return nil, errNoQueue(in.QueueName)
		}
		return map[string]string{"QueueUrl": s.queueURL(in.QueueName)}, nil
	case "ListQueues":
		s.mu.Lock()
		defer s.mu.Unlock()
		urls := []string{}
		for name := range s.queues {
			if strings.HasPrefix(name, in.QueueNamePrefix) {
				urls = append(urls, s.queueURL(name))
			}
		}
		sort.Strings(urls)
		return map[string][]string{"QueueUrls": urls}, nil
	case "GetQueueAttributes":
		return s.getAttributes(in.QueueUrl, in.AttributeNames)
	case "SetQueueAttributes":
		s.mu.Lock()
		defer s.mu.Unlock()
		q, err := s.queue(in.QueueUrl)
		if err != nil {
			return nil, err
		}
		return struct{}{}, q.setAttributes(in.Attributes)
	case "SendMessage":
		id, sum, err := s.Send(in.QueueUrl, in.MessageBody, in.DelaySeconds)
		if err != nil {
			return nil, err
		}
		return map[string]string{"MessageId": id, "MD5OfMessageBody": sum}, nil
	case "SendMessageBatch":
		if len(in.Entries) == 0 || len(in.Entries) > 10 {
			return nil, &sqsError{http.StatusBadRequest, "TooManyEntriesInBatchRequest", "a batch has 1 to 10 entries"}
		}
		type ok struct{ Id, MessageId, MD5OfMessageBody string }
		type failed struct {
			Id, Code, Message string
			SenderFault       bool
		}
		out := struct {
			Successful []ok
			Failed     []failed
		}{Successful: []ok{}, Failed: []failed{}}
		for _, e := range in.Entries {
			id, sum, err := s.Send(in.QueueUrl, e.MessageBody, e.DelaySeconds)
			if se, isSQS := err.(*sqsError); isSQS && se.code == "AWS.SimpleQueueService.NonExistentQueue" {
				return nil, err
			} else if err != nil {
				out.Failed = append(out.Failed, failed{e.Id, "InvalidParameterValue", err.Error(), true})
				continue
			}
			out.Successful = append(out.Successful, ok{e.Id, id, sum})
		}
		return out, nil
	case "ReceiveMessage":
		max := in.MaxNumberOfMessages
		if max == 0 {
			max = 1
		}
		if max < 1 || max > 10 {
			return nil, errInvalid("MaxNumberOfMessages must be between 1 and 10")
		}
		var vis *time.Duration
		if in.VisibilityTimeout != nil {
			d := time.Duration(*in.VisibilityTimeout) * time.Second
			vis = &d
		}
		wait := 0
		if in.WaitTimeSeconds != nil {
			wait = *in.WaitTimeSeconds
		}
		if wait < 0 || wait > 20 {
			return nil, errInvalid("WaitTimeSeconds must be between 0 and 20")
		}
		msgs, err := s.Receive(ctx, in.QueueUrl, max, vis, time.Duration(wait)*time.Second)
		if err != nil {
			return nil, err
		}
		type msg struct {
			MessageId, ReceiptHandle, MD5OfBody, Body string
			Attributes                                map[string]string `json:",omitempty"`
		}
		out := struct{ Messages []msg }{Messages: []msg{}}
		for _, m := range msgs {
			out.Messages = append(out.Messages, msg{m.MessageID, m.ReceiptHandle, m.md5, m.Body, m.Attributes})
		}
		return out, nil
	case "DeleteMessage":
		return struct{}{}, s.Delete(in.QueueUrl, in.ReceiptHandle)
	case "DeleteMessageBatch":
		type ok struct{ Id string }
		type failed struct {
			Id, Code, Message string
			SenderFault       bool
		}
		out := struct {
			Successful []ok
			Failed     []failed
		}{Successful: []ok{}, Failed: []failed{}}
		for _, e := range in.Entries {
			if err := s.Delete(in.QueueUrl, e.ReceiptHandle); err != nil {
				if se, isSQS := err.(*sqsError); isSQS && se.code == "AWS.SimpleQueueService.NonExistentQueue" {
					return nil, err
				}
				out.Failed = append(out.Failed, failed{e.Id, "ReceiptHandleIsInvalid", err.Error(), true})
				continue
			}
			out.Successful = append(out.Successful, ok{e.Id})
		}
		return out, nil
	case "ChangeMessageVisibility":
		if in.VisibilityTimeout == nil {
			return nil, errInvalid("VisibilityTimeout is required")
		}
		return struct{}{}, s.ChangeVisibility(in.QueueUrl, in.ReceiptHandle, time.Duration(*in.VisibilityTimeout)*time.Second)
	case "PurgeQueue":
		s.mu.Lock()
		defer s.mu.Unlock()
		q, err := s.queue(in.QueueUrl)
		if err != nil {
			return nil, err
		}
		q.msgs = nil
		return struct{}{}, nil
	}
	return nil, &sqsError{http.StatusBadRequest, "UnsupportedOperation", "operation " + op + " is not implemented by the local SQS"}
}

func errNoQueue(name string) *sqsError {
	return &sqsError{http.StatusBadRequest, "QueueDoesNotExist", "the queue " + name + " does not exist"}
}

// queue finds a queue by its URL (or name). s.mu is held.
func (s *SQS) queue(url string) (*sqsQueue, error) {
	name := url[strings.LastIndex(url, "/")+1:]
	q, ok := s.queues[name]
	if !ok {
		return nil, errNoQueue(name)
	}
	return q, nil
}

// CreateQueue creates a queue, or returns the URL of an existing one with
// the same attributes, as SQS does.
func (s *SQS) createQueue(name string, attrs map[string]string) (map[string]string, error) {
	if name == "" || len(name) > 80 || strings.IndexFunc(name, func(r rune) bool {
		return !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) >= 0 {
		return nil, errInvalid("queue name %q: 1 to 80 letters, digits, - or _", name)
	}
	if strings.HasSuffix(name, ".fifo") {
		return nil, errInvalid("FIFO queues are not supported locally")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if q, ok := s.queues[name]; ok {
		for k, v := range attrs {
			if q.attrs[k] != v {
				return nil, &sqsError{http.StatusBadRequest, "QueueNameExists", "queue " + name + " exists with other attributes"}
			}
		}
		return map[string]string{"QueueUrl": s.queueURL(name)}, nil
	}
	q := &sqsQueue{name: name, attrs: map[string]string{"VisibilityTimeout": "30", "MaximumMessageSize": "262144",
		"MessageRetentionPeriod": "345600", "DelaySeconds": "0", "ReceiveMessageWaitTimeSeconds": "0"},
		created: s.now(), visibility: 30 * time.Second}
	if err := q.setAttributes(attrs); err != nil {
		return nil, err
	}
	s.queues[name] = q
	return map[string]string{"QueueUrl": s.queueURL(name)}, nil
}

// CreateQueue creates a queue with SQS attributes (VisibilityTimeout,
// RedrivePolicy, ...) and returns its URL.
func (s *SQS) CreateQueue(name string, attrs map[string]string) (string, error) {
	out, err := s.createQueue(name, attrs)
	if err != nil {
		return "", err
	}
	return out["QueueUrl"], nil
}

func (q *sqsQueue) setAttributes(attrs map[string]string) error {
	for k, v := range attrs {
		switch k {
		case "VisibilityTimeout":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 43200 {
				return errInvalid("VisibilityTimeout %q: 0 to 43200 seconds", v)
			}
			q.visibility = time.Duration(n) * time.Second
		case "RedrivePolicy":
			var p struct {
				DeadLetterTargetArn string `json:"deadLetterTargetArn"`
				MaxReceiveCount     any    `json:"maxReceiveCount"` // SQS takes a number or a string
			}
			if err := json.Unmarshal([]byte(v), &p); err != nil {
				return errInvalid("RedrivePolicy: %v", err)
			}
			n, err := strconv.Atoi(strings.Trim(fmt.Sprint(p.MaxReceiveCount), `"`))
			if err != nil || n < 1 || n > 1000 {
				return errInvalid("RedrivePolicy: maxReceiveCount %v: 1 to 1000", p.MaxReceiveCount)
			}
			i := strings.LastIndex(p.DeadLetterTargetArn, ":")
			if !strings.HasPrefix(p.DeadLetterTargetArn, "arn:aws:sqs:") || i < 0 {
				return errInvalid("RedrivePolicy: deadLetterTargetArn %q is not a queue ARN", p.DeadLetterTargetArn)
			}
			q.dlq, q.maxRecv = p.DeadLetterTargetArn[i+1:], n
		case "MaximumMessageSize", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds", "Policy", "SqsManagedSseEnabled", "KmsMasterKeyId":
		default:
			return &sqsError{http.StatusBadRequest, "InvalidAttributeName", "unknown attribute " + k}
		}
		q.attrs[k] = v
	}
	return nil
}

func (s *SQS) getAttributes(url string, names []string) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queue(url)
	if err != nil {
		return nil, err
	}
	now := s.now()
	all := map[string]string{"QueueArn": QueueARN(q.name), "CreatedTimestamp": strconv.FormatInt(q.created.Unix(), 10)}
	for k, v := range q.attrs {
		all[k] = v
	}
	visible, inFlight, delayed := 0, 0, 0
	for _, m := range q.msgs {
		switch {
		case m.receives == 0 && m.visibleAt.After(now):
			delayed++
		case m.visibleAt.After(now):
			inFlight++
		default:
			visible++
		}
	}
	all["ApproximateNumberOfMessages"] = strconv.Itoa(visible)
	all["ApproximateNumberOfMessagesNotVisible"] = strconv.Itoa(inFlight)
	all["ApproximateNumberOfMessagesDelayed"] = strconv.Itoa(delayed)
	out := map[string]string{}
	for _, n := range names {
		if n == "All" {
			out = all
			break
		}
		if v, ok := all[n]; ok {
			out[n] = v
		}
	}
	return map[string]map[string]string{"Attributes": out}, nil
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Send enqueues a message and returns its id and body MD5.
func (s *SQS) Send(url, body string, delaySeconds int) (id, sum string, err error) {
	if body == "" {
		return "", "", errInvalid("MessageBody is required")
	}
	if len(body) > 262144 {
		return "", "", errInvalid("MessageBody is longer than 262144 bytes")
	}
	if delaySeconds < 0 || delaySeconds > 900 {
		return "", "", errInvalid("DelaySeconds must be between 0 and 900")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queue(url)
	if err != nil {
		return "", "", err
	}
	h := md5.Sum([]byte(body))
	m := &sqsMessage{id: newID(), body: body, md5: hex.EncodeToString(h[:]), sent: s.now()}
	m.visibleAt = m.sent.Add(time.Duration(delaySeconds) * time.Second)
	q.msgs = append(q.msgs, m)
	s.wake()
	return m.id, m.md5, nil
}

// wake wakes long polls. s.mu is held.
func (s *SQS) wake() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Received is one message handed out by Receive.
type Received struct {
	MessageID, ReceiptHandle, Body string
	md5                            string
	Attributes                     map[string]string
}

// Receive takes up to max visible messages, hiding them for the
// visibility timeout (the queue's unless vis is set), waiting up to wait
// for the first one.
func (s *SQS) Receive(ctx context.Context, url string, max int, vis *time.Duration, wait time.Duration) ([]Received, error) {
	deadline := s.now().Add(wait)
	for {
		s.mu.Lock()
		q, err := s.queue(url)
		if err != nil {
			s.mu.Unlock()
			return nil, err
		}
		out, next := s.take(q, max, vis)
		changed := s.changed
		s.mu.Unlock()
		if len(out) > 0 {
			return out, nil
		}
		left := deadline.Sub(s.now())
		if left <= 0 {
			return []Received{}, nil
		}
		if !next.IsZero() && next.Sub(s.now()) < left {
			left = max64(next.Sub(s.now()), time.Millisecond)
		}
		t := time.NewTimer(left)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

func max64(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

// take hands out visible messages of q, moving those past the queue's
// maxReceiveCount to its dead-letter queue first; next is when the
// earliest hidden message becomes visible. s.mu is held.
func (s *SQS) take(q *sqsQueue, max int, vis *time.Duration) (out []Received, next time.Time) {
	now := s.now()
	timeout := q.visibility
	if vis != nil {
		timeout = *vis
	}
	keep := q.msgs[:0]
	for _, m := range q.msgs {
		if m.visibleAt.After(now) || len(out) == max {
			if m.visibleAt.After(now) && (next.IsZero() || m.visibleAt.Before(next)) {
				next = m.visibleAt
			}
			keep = append(keep, m)
			continue
		}
		if q.dlq != "" && m.receives >= q.maxRecv {
			if d, ok := s.queues[q.dlq]; ok {
				moved := &sqsMessage{id: m.id, body: m.body, md5: m.md5, sent: m.sent, visibleAt: now}
				d.msgs = append(d.msgs, moved)
				if s.onDeadLetter != nil {
					go s.onDeadLetter(q.name, d.name, m.body, m.receives)
				}
				continue
			}
		}
		m.receives++
		if m.receives == 1 {
			m.firstRecv = now
		}
		m.receipt = newID() + "#" + m.id
		m.visibleAt = now.Add(timeout)
		out = append(out, Received{MessageID: m.id, ReceiptHandle: m.receipt, Body: m.body, md5: m.md5, Attributes: map[string]string{
			"ApproximateReceiveCount":          strconv.Itoa(m.receives),
			"SentTimestamp":                    strconv.FormatInt(m.sent.UnixMilli(), 10),
			"ApproximateFirstReceiveTimestamp": strconv.FormatInt(m.firstRecv.UnixMilli(), 10),
			"SenderId":                         AccountID,
		}})
		keep = append(keep, m)
	}
	q.msgs = keep
	return out, next
}

// find returns the message a receipt handle was issued for, if that is
// still its latest receive. s.mu is held.
func (q *sqsQueue) find(receipt string) (int, bool) {
	for i, m := range q.msgs {
		if m.receipt == receipt {
			return i, true
		}
	}
	return 0, false
}

// Delete deletes the message of a receipt handle. A message already
// deleted, or received again since, is not an error (as in SQS, where the
// receipt handle of a deleted message may still be used).
func (s *SQS) Delete(url, receipt string) error {
	if receipt == "" {
		return &sqsError{http.StatusBadRequest, "ReceiptHandleIsInvalid", "ReceiptHandle is required"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queue(url)
	if err != nil {
		return err
	}
	if i, ok := q.find(receipt); ok {
		q.msgs = append(q.msgs[:i], q.msgs[i+1:]...)
	}
	return nil
}

// ChangeVisibility sets the time until the message of a receipt handle is
// visible again, counted from now (0: at once).
func (s *SQS) ChangeVisibility(url, receipt string, vis time.Duration) error {
	if vis < 0 || vis > 12*time.Hour {
		return errInvalid("VisibilityTimeout must be between 0 and 43200")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queue(url)
	if err != nil {
		return err
	}
	i, ok := q.find(receipt)
	if !ok {
		return &sqsError{http.StatusBadRequest, "MessageNotInflight", "the message of this receipt handle is not in flight"}
	}
	q.msgs[i].visibleAt = s.now().Add(vis)
	// Wake the long polls whatever the new timeout: each works out again
	// when the next hidden message shows, and a poll that began while this
	// one was hidden for longer would otherwise sleep past it (the
	// mapping's gatherer is always in a long poll when a batch fails).
	s.wake()
	return nil
}

// Depth is how many messages a queue holds, visible or in flight.
func (s *SQS) Depth(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q, ok := s.queues[name]; ok {
		return len(q.msgs)
	}
	return 0
}
