package lake_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// fakeGlue is an in-process AWS Glue Data Catalog speaking Glue's JSON 1.1
// protocol (POST /, X-Amz-Target: AWSGlue.<Operation>), with only the
// operations iceberg-go's catalog/glue uses. Tables carry a VersionId that
// UpdateTable checks and bumps, as Glue's optimistic locking does: a stale
// VersionId answers ConcurrentModificationException.
type fakeGlue struct {
	mu        sync.Mutex
	databases map[string]map[string]any            // name → Database
	tables    map[string]map[string]map[string]any // database → name → Table

	// beforeUpdate, when set, runs before an UpdateTable is applied,
	// outside the lock (it may call the server itself).
	beforeUpdate func(database, table string)

	calls     map[string]int // operation → count
	conflicts int            // ConcurrentModificationException answers
}

func newFakeGlue() *fakeGlue {
	return &fakeGlue{
		databases: map[string]map[string]any{},
		tables:    map[string]map[string]map[string]any{},
		calls:     map[string]int{},
	}
}

// glueError is an error answer: Glue's exception name and message.
type glueError struct {
	status int
	typ    string
	msg    string
}

func (f *fakeGlue) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AWSGlue.")
	if r.Method != http.MethodPost || !ok {
		writeGlue(w, nil, &glueError{http.StatusBadRequest, "UnknownOperationException", "not a Glue JSON 1.1 request"})
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		writeGlue(w, nil, &glueError{http.StatusForbidden, "AccessDeniedException", "request is not signed"})
		return
	}
	var in map[string]any
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeGlue(w, nil, &glueError{http.StatusBadRequest, "InvalidInputException", "body is not JSON"})
		return
	}
	f.mu.Lock()
	hook := f.beforeUpdate
	f.mu.Unlock()
	if op == "UpdateTable" && hook != nil {
		hook(str(in["DatabaseName"]), str(obj(in["TableInput"])["Name"]))
	}
	out, gerr := f.do(op, in)
	writeGlue(w, out, gerr)
}

func writeGlue(w http.ResponseWriter, out any, gerr *glueError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if gerr != nil {
		w.Header().Set("X-Amzn-ErrorType", gerr.typ)
		w.WriteHeader(gerr.status)
		json.NewEncoder(w).Encode(map[string]string{"__type": gerr.typ, "Message": gerr.msg})
		return
	}
	if out == nil {
		out = map[string]any{}
	}
	json.NewEncoder(w).Encode(out)
}

func (f *fakeGlue) do(op string, in map[string]any) (any, *glueError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	notFound := func(what string) *glueError {
		return &glueError{http.StatusBadRequest, "EntityNotFoundException", what + " not found"}
	}
	switch op {
	case "GetDatabase":
		db, ok := f.databases[str(in["Name"])]
		if !ok {
			return nil, notFound("database " + str(in["Name"]))
		}
		return map[string]any{"Database": db}, nil
	case "GetDatabases":
		list := []any{}
		for _, db := range f.databases {
			list = append(list, db)
		}
		return map[string]any{"DatabaseList": list}, nil
	case "CreateDatabase":
		input := obj(in["DatabaseInput"])
		name := str(input["Name"])
		if _, ok := f.databases[name]; ok {
			return nil, &glueError{http.StatusBadRequest, "AlreadyExistsException", "database " + name + " already exists"}
		}
		db := clone(input)
		db["CreateTime"] = float64(time.Now().Unix())
		f.databases[name] = db
		f.tables[name] = map[string]map[string]any{}
		return nil, nil
	case "GetTable":
		tbl, ok := f.tables[str(in["DatabaseName"])][str(in["Name"])]
		if !ok {
			return nil, notFound("table " + str(in["Name"]))
		}
		return map[string]any{"Table": tbl}, nil
	case "GetTables":
		tables, ok := f.tables[str(in["DatabaseName"])]
		if !ok {
			return nil, notFound("database " + str(in["DatabaseName"]))
		}
		list := []any{}
		for _, tbl := range tables {
			list = append(list, tbl)
		}
		return map[string]any{"TableList": list}, nil
	case "CreateTable":
		database := str(in["DatabaseName"])
		tables, ok := f.tables[database]
		if !ok {
			return nil, notFound("database " + database)
		}
		input := obj(in["TableInput"])
		name := str(input["Name"])
		if _, ok := tables[name]; ok {
			return nil, &glueError{http.StatusBadRequest, "AlreadyExistsException", "table " + name + " already exists"}
		}
		tables[name] = f.stored(database, input, 1)
		return nil, nil
	case "UpdateTable":
		database := str(in["DatabaseName"])
		input := obj(in["TableInput"])
		name := str(input["Name"])
		cur, ok := f.tables[database][name]
		if !ok {
			return nil, notFound("table " + name)
		}
		have, _ := strconv.Atoi(str(cur["VersionId"]))
		if v := str(in["VersionId"]); v != "" && v != str(cur["VersionId"]) {
			f.conflicts++
			return nil, &glueError{http.StatusBadRequest, "ConcurrentModificationException",
				fmt.Sprintf("table %s version %s is not the current version %d", name, v, have)}
		}
		f.tables[database][name] = f.stored(database, input, have+1)
		return nil, nil
	case "DeleteTable":
		database, name := str(in["DatabaseName"]), str(in["Name"])
		if _, ok := f.tables[database][name]; !ok {
			return nil, notFound("table " + name)
		}
		delete(f.tables[database], name)
		return nil, nil
	}
	return nil, &glueError{http.StatusBadRequest, "InvalidInputException", "operation " + op + " is not implemented by the fake"}
}

// stored is the Table Glue returns for a TableInput.
func (f *fakeGlue) stored(database string, input map[string]any, version int) map[string]any {
	t := clone(input)
	t["DatabaseName"] = database
	t["VersionId"] = strconv.Itoa(version)
	t["UpdateTime"] = float64(time.Now().Unix())
	return t
}

// onUpdate sets beforeUpdate (nil removes it).
func (f *fakeGlue) onUpdate(hook func(database, table string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.beforeUpdate = hook
}

// count is how many times op was called, or with op "conflicts" how many
// UpdateTable calls were refused for a stale VersionId.
func (f *fakeGlue) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if op == "conflicts" {
		return f.conflicts
	}
	return f.calls[op]
}

func (f *fakeGlue) table(database, name string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return clone(f.tables[database][name])
}

func str(v any) string { s, _ := v.(string); return s }

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func clone(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	json.Unmarshal(b, &out)
	return out
}
