package training

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
)

// MarshalJSON writes the run's answer with every number that could not be
// computed (NaN or ±Inf: an AUC without positives, a MAPE without a
// nonzero month) as null. encoding/json refuses such floats outright, and
// the answer is what the train function returns to Lambda and the state
// machine: one missing figure would fail the whole run's answer.
func (r Result) MarshalJSON() ([]byte, error) {
	type plainResult Result // without this method
	return json.Marshal(finite(reflect.ValueOf(plainResult(r))))
}

var marshalerType = reflect.TypeFor[json.Marshaler]()

// finite turns v into values encoding/json writes as it would write v
// (json tags, omitempty, "-", embedded structs, types with their own
// MarshalJSON kept whole), with non-finite floats as nil.
func finite(v reflect.Value) any {
	if v.Kind() != reflect.Pointer && v.Kind() != reflect.Interface && v.Type().Implements(marshalerType) {
		return v.Interface()
	}
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil
		}
		return v.Interface()
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return finite(v.Elem())
	case reflect.Slice:
		if v.IsNil() {
			return nil
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return v.Interface() // []byte: base64, as encoding/json
		}
		fallthrough
	case reflect.Array:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = finite(v.Index(i))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		out := make(map[string]any, v.Len())
		for it := v.MapRange(); it.Next(); {
			k, _ := json.Marshal(it.Key().Interface())
			key := strings.Trim(string(k), `"`)
			out[key] = finite(it.Value())
		}
		return out
	case reflect.Struct:
		out := map[string]any{}
		structFields(v, out)
		return out
	default:
		return v.Interface()
	}
}

// structFields adds v's encoded fields to out; fields of embedded structs
// come after, so an outer field of the same name wins, as in encoding/json.
func structFields(v reflect.Value, out map[string]any) {
	t := v.Type()
	var embedded []reflect.Value
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			embedded = append(embedded, v.Field(i))
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fv := v.Field(i)
		if strings.Contains(","+opts+",", ",omitempty,") && isEmpty(fv) {
			continue
		}
		out[name] = finite(fv)
	}
	for _, e := range embedded {
		inner := map[string]any{}
		structFields(e, inner)
		for k, val := range inner {
			if _, ok := out[k]; !ok {
				out[k] = val
			}
		}
	}
}

// isEmpty is encoding/json's notion of an empty value for omitempty.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}
