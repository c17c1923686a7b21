package localstack

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/telcolake/telcolake/lambdahttp"
)

// route maps an HttpApi route of the template to a function.
type route struct {
	method   string // or ANY
	segments []string
	function string
	key      string // "GET /customers/{id}"
}

// gateway turns HTTP requests into API Gateway v2 (payload 2.0) events.
type gateway struct {
	routes []route
	invoke func(ctx context.Context, fn string, payload []byte) ([]byte, error)
}

func newRoute(method, path, fn string) route {
	return route{method: method, segments: strings.Split(strings.Trim(path, "/"), "/"), function: fn, key: method + " " + path}
}

// match returns the path parameters when the route matches.
func (rt route) match(method, path string) (map[string]string, bool) {
	if rt.method != "ANY" && rt.method != method {
		return nil, false
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	params := map[string]string{}
	for i, s := range rt.segments {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "+}") { // greedy {proxy+}
			params[strings.Trim(s, "{+}")] = strings.Join(segs[i:], "/")
			return params, true
		}
		if i >= len(segs) {
			return nil, false
		}
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			params[strings.Trim(s, "{}")] = segs[i]
			continue
		}
		if s != segs[i] {
			return nil, false
		}
	}
	return params, len(segs) == len(rt.segments)
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var rt route
	var params map[string]string
	found := false
	for _, c := range g.routes {
		if p, ok := c.match(r.Method, r.URL.Path); ok {
			rt, params, found = c, p, true
			break
		}
	}
	if !found {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		if len(g.routes) == 0 {
			io.WriteString(w, `{"message":"Not Found: infra/template.yaml defines no HttpApi routes yet"}`)
			return
		}
		io.WriteString(w, `{"message":"Not Found"}`)
		return
	}
	ev, err := lambdahttp.Event(r, rt.key, params, 6<<20)
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		io.WriteString(w, `{"message":"Request Entity Too Large"}`)
		return
	}
	payload, _ := json.Marshal(ev)
	out, err := g.invoke(r.Context(), rt.function, payload)
	if err != nil {
		var fe *FunctionError
		w.Header().Set("Content-Type", "application/json")
		if errors.As(err, &fe) && fe.ErrorType == "Sandbox.Timedout" {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"message":"Service Unavailable"}`)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"message":"Internal Server Error"}`)
		return
	}
	writeV2Response(w, out)
}

// writeV2Response writes a function's payload-2.0 answer: a response object
// with statusCode (through lambdahttp.Write), or any other JSON taken as a
// 200 body (as API Gateway does).
func writeV2Response(w http.ResponseWriter, out []byte) {
	var resp events.APIGatewayV2HTTPResponse
	var probe map[string]json.RawMessage
	if json.Unmarshal(out, &probe) != nil || probe["statusCode"] == nil || json.Unmarshal(out, &resp) != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write(out)
		return
	}
	lambdahttp.Write(w, resp)
}
