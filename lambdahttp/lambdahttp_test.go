package lambdahttp

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// echo answers what it received, as JSON, and sets a few headers.
type seen struct {
	Method, Path, RawQuery, Host, Remote, RequestID string
	Body                                            []byte
	Header                                          http.Header
	Cookies                                         map[string]string
}

func echo(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s := seen{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Host: r.Host, Remote: r.RemoteAddr,
		Body: b, RequestID: RequestID(r.Context()), Header: r.Header, Cookies: map[string]string{}}
	for _, c := range r.Cookies() {
		s.Cookies[c.Name] = c.Value
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(s)
}

func served(t *testing.T, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, seen) {
	t.Helper()
	resp, err := Handler(http.HandlerFunc(echo))(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	var s seen
	if resp.StatusCode == http.StatusOK {
		if resp.IsBase64Encoded {
			t.Fatalf("JSON answer base64-encoded")
		}
		if err := json.Unmarshal([]byte(resp.Body), &s); err != nil {
			t.Fatalf("answer %q: %v", resp.Body, err)
		}
	}
	return resp, s
}

func TestRequest(t *testing.T) {
	base := func() events.APIGatewayV2HTTPRequest {
		return events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: "$default", RawPath: "/v1/customers/S1",
			Headers: map[string]string{"host": "api.example", "x-api-key": "k"},
			RequestContext: events.APIGatewayV2HTTPRequestContext{Stage: "$default", RequestID: "rid-1",
				HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: "/v1/customers/S1", SourceIP: "10.0.0.9"}}}
	}
	for _, tt := range []struct {
		name  string
		edit  func(*events.APIGatewayV2HTTPRequest)
		check func(t *testing.T, s seen)
	}{
		{"plain", func(*events.APIGatewayV2HTTPRequest) {}, func(t *testing.T, s seen) {
			if s.Method != "GET" || s.Path != "/v1/customers/S1" || s.Host != "api.example" || s.Remote != "10.0.0.9" ||
				s.RequestID != "rid-1" || s.Header.Get("X-Api-Key") != "k" {
				t.Errorf("%+v", s)
			}
		}},
		{"raw query keeps repeats", func(ev *events.APIGatewayV2HTTPRequest) {
			ev.RawQueryString = "region=North&region=South&limit=5"
			ev.QueryStringParameters = map[string]string{"region": "North,South", "limit": "5"}
		}, func(t *testing.T, s seen) {
			if s.RawQuery != "region=North&region=South&limit=5" {
				t.Errorf("raw query %q", s.RawQuery)
			}
		}},
		{"joined map without raw query", func(ev *events.APIGatewayV2HTTPRequest) {
			ev.QueryStringParameters = map[string]string{"region": "North,South"}
		}, func(t *testing.T, s seen) {
			if s.RawQuery != "region=North%2CSouth" {
				t.Errorf("raw query %q", s.RawQuery)
			}
		}},
		{"named stage stripped", func(ev *events.APIGatewayV2HTTPRequest) {
			ev.RawPath, ev.RequestContext.Stage = "/prod/healthz", "prod"
		}, func(t *testing.T, s seen) {
			if s.Path != "/healthz" {
				t.Errorf("path %q", s.Path)
			}
		}},
		{"method from the route key", func(ev *events.APIGatewayV2HTTPRequest) {
			ev.RequestContext.HTTP.Method, ev.RouteKey = "", "POST /v1/x"
		}, func(t *testing.T, s seen) {
			if s.Method != "POST" {
				t.Errorf("method %q", s.Method)
			}
		}},
		{"cookies", func(ev *events.APIGatewayV2HTTPRequest) {
			ev.Cookies = []string{"session=abc.def", "lang=zh-CN"}
		}, func(t *testing.T, s seen) {
			if s.Cookies["session"] != "abc.def" || s.Cookies["lang"] != "zh-CN" {
				t.Errorf("cookies %v", s.Cookies)
			}
		}},
		{"multi-value header as joined", func(ev *events.APIGatewayV2HTTPRequest) {
			ev.Headers["accept-encoding"] = "br,gzip"
		}, func(t *testing.T, s seen) {
			if s.Header.Get("Accept-Encoding") != "br,gzip" {
				t.Errorf("accept-encoding %q", s.Header.Get("Accept-Encoding"))
			}
		}},
		{"base64 body", func(ev *events.APIGatewayV2HTTPRequest) {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString([]byte("a=1&b=\xff")), true
		}, func(t *testing.T, s seen) {
			if string(s.Body) != "a=1&b=\xff" {
				t.Errorf("body %q", s.Body)
			}
		}},
		{"text body", func(ev *events.APIGatewayV2HTTPRequest) { ev.Body = "csrf=t&x=1" }, func(t *testing.T, s seen) {
			if string(s.Body) != "csrf=t&x=1" {
				t.Errorf("body %q", s.Body)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ev := base()
			tt.edit(&ev)
			resp, s := served(t, ev)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
			}
			tt.check(t, s)
		})
	}
}

func TestBadEvents(t *testing.T) {
	for name, ev := range map[string]events.APIGatewayV2HTTPRequest{
		"no method":     {RawPath: "/x"},
		"relative path": {RawPath: "x", RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"}}},
		"bad escape":    {RawPath: "/v1/customers/%zz", RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"}}},
		"bad base64":    {RawPath: "/x", Body: "!!", IsBase64Encoded: true, RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"}}},
	} {
		resp, _ := served(t, ev)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", name, resp.StatusCode)
		}
	}
}

// TestFunctionURLEvent: a function URL event (payload 2.0, as AWS documents
// it) decodes into the same event type and is served the same way.
func TestFunctionURLEvent(t *testing.T) {
	const payload = `{"version":"2.0","routeKey":"$default","rawPath":"/v1/segments","rawQueryString":"a=1&a=2",
	"cookies":["c1=v1"],"headers":{"host":"abc.lambda-url.eu-west-1.on.aws","x-api-key":"k"},
	"queryStringParameters":{"a":"1,2"},"requestContext":{"accountId":"123","apiId":"abc","domainName":"abc.lambda-url.eu-west-1.on.aws",
	"http":{"method":"GET","path":"/v1/segments","protocol":"HTTP/1.1","sourceIp":"203.0.113.1","userAgent":"curl"},
	"requestId":"fu-1","routeKey":"$default","stage":"$default","timeEpoch":1},"isBase64Encoded":false}`
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal([]byte(payload), &ev); err != nil {
		t.Fatal(err)
	}
	_, s := served(t, ev)
	if s.Path != "/v1/segments" || s.RawQuery != "a=1&a=2" || s.Cookies["c1"] != "v1" || s.RequestID != "fu-1" || s.Remote != "203.0.113.1" {
		t.Errorf("%+v", s)
	}
}

func TestResponse(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("id,name\n1,a\n"))
	zw.Close()
	for _, tt := range []struct {
		name    string
		header  http.Header
		body    []byte
		base64  bool
		headers map[string]string
		cookies []string
	}{
		{"json", http.Header{"Content-Type": {"application/json; charset=utf-8"}}, []byte(`{"a":1}`), false,
			map[string]string{"Content-Type": "application/json; charset=utf-8"}, nil},
		{"problem", http.Header{"Content-Type": {"application/problem+json; charset=utf-8"}}, []byte(`{}`), false, nil, nil},
		{"gzip csv", http.Header{"Content-Type": {"text/csv; charset=utf-8"}, "Content-Encoding": {"gzip"}}, gz.Bytes(), true,
			map[string]string{"Content-Encoding": "gzip"}, nil},
		{"png", http.Header{"Content-Type": {"image/png"}}, []byte("\x89PNG"), true, nil, nil},
		{"no content type", http.Header{}, []byte("x"), true, nil, nil},
		{"cookies and repeated headers", http.Header{"Content-Type": {"text/html; charset=utf-8"}, "Set-Cookie": {"a=1; HttpOnly", "b=2"},
			"Vary": {"Accept-Encoding", "Cookie"}}, []byte("<p>"), false, map[string]string{"Vary": "Accept-Encoding, Cookie"}, []string{"a=1; HttpOnly", "b=2"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp := Response(201, tt.header, tt.body)
			if resp.StatusCode != 201 || resp.IsBase64Encoded != tt.base64 {
				t.Fatalf("status %d base64 %v, want 201 %v", resp.StatusCode, resp.IsBase64Encoded, tt.base64)
			}
			for k, v := range tt.headers {
				if resp.Headers[k] != v {
					t.Errorf("header %s = %q, want %q", k, resp.Headers[k], v)
				}
			}
			if _, ok := resp.Headers["Set-Cookie"]; ok || strings.Join(resp.Cookies, "|") != strings.Join(tt.cookies, "|") {
				t.Errorf("cookies %v (headers %v), want %v", resp.Cookies, resp.Headers, tt.cookies)
			}
			// Back through Write, as the gateway answers the client.
			w := httptest.NewRecorder()
			Write(w, resp)
			if w.Code != 201 || !bytes.Equal(w.Body.Bytes(), tt.body) || strings.Join(w.Result().Header.Values("Set-Cookie"), "|") != strings.Join(tt.cookies, "|") {
				t.Errorf("written: %d %q cookies %v", w.Code, w.Body.Bytes(), w.Result().Header.Values("Set-Cookie"))
			}
		})
	}
}

// TestRoundTrip: a request through Event (the local gateway) and Handler
// (the function) reaches the handler as sent, and its answer comes back.
func TestRoundTrip(t *testing.T) {
	fn := Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c, err := r.Cookie("session")
		if err != nil || c.Value != "s.1" || r.URL.RawQuery != "q=a+b&q=c" || string(b) != "\x00\x01binary" ||
			r.Header.Get("X-Thing") != "1,2" || r.URL.Path != "/a b/c" || RequestID(r.Context()) == "" {
			http.Error(w, "not as sent", http.StatusTeapot)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "s.2", HttpOnly: true})
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok")
	}))
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := Event(r, "ANY /{proxy+}", map[string]string{"proxy": r.URL.Path[1:]}, 1<<10)
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		resp, _ := fn(r.Context(), ev)
		Write(w, resp)
	}))
	defer gw.Close()
	req, _ := http.NewRequest("POST", gw.URL+"/a%20b/c?q=a+b&q=c", strings.NewReader("\x00\x01binary"))
	req.Header.Add("X-Thing", "1")
	req.Header.Add("X-Thing", "2")
	req.AddCookie(&http.Cookie{Name: "session", Value: "s.1"})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ok" || len(resp.Cookies()) != 1 || resp.Cookies()[0].Value != "s.2" {
		t.Fatalf("%d %q %v", resp.StatusCode, b, resp.Cookies())
	}
	big, _ := http.NewRequest("POST", gw.URL+"/x", strings.NewReader(strings.Repeat("x", 2<<10)))
	if resp, err := http.DefaultClient.Do(big); err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("body over the limit: %v %v", resp.StatusCode, err)
	}
}
