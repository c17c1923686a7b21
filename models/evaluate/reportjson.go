package evaluate

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"
)

// FileJSON is the report as data (JSON), for pages that draw it
// themselves (the staff console's model page) rather than read the
// Markdown.
const FileJSON = "report.json"

// JSON encodes the report with Go field names as keys; a missing number
// (NaN or ±Inf) is null.
func (r *Report) JSON() ([]byte, error) {
	b, err := json.Marshal(plain(reflect.ValueOf(*r)))
	if err != nil {
		return nil, fmt.Errorf("evaluate: report %s: json: %w", r.Version, err)
	}
	return b, nil
}

var timeType = reflect.TypeOf(time.Time{})

// plain turns v into maps, slices and scalars that encoding/json writes,
// with non-finite floats as nil.
func plain(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil
		}
		return f
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return plain(v.Elem())
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = plain(v.Index(i))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		out := make(map[string]any, v.Len())
		for it := v.MapRange(); it.Next(); {
			out[mapKey(it.Key())] = plain(it.Value())
		}
		return out
	case reflect.Struct:
		if v.Type() == timeType {
			return v.Interface()
		}
		out := map[string]any{}
		for i := 0; i < v.NumField(); i++ {
			if f := v.Type().Field(i); f.IsExported() {
				out[f.Name] = plain(v.Field(i))
			}
		}
		return out
	default:
		return v.Interface()
	}
}

// mapKey is k as encoding/json writes a map key: a string as it is,
// anything else (an integer, a TextMarshaler) as its JSON text unquoted.
func mapKey(k reflect.Value) string {
	if k.Kind() == reflect.String {
		return k.String()
	}
	b, err := json.Marshal(k.Interface())
	if err != nil {
		return fmt.Sprint(k.Interface())
	}
	return strings.Trim(string(b), `"`)
}
