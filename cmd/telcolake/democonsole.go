package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"
)

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// tryConsole signs in to the local console as the demo analyst the way a
// browser does (form, cookie, CSRF token), asks for the live count of a
// search, checks it equals the API's count of the same conditions, and
// prints where to open the console.
func tryConsole(ctx context.Context, w io.Writer, base string) error {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 60 * time.Second}
	get := func(u string, hdr ...string) (*http.Response, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+u, nil)
		if err != nil {
			return nil, nil, err
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, b, err
	}
	_, page, err := get("/console/signin")
	if err != nil {
		return err
	}
	m := csrfField.FindSubmatch(page)
	if m == nil {
		return fmt.Errorf("console: no sign-in form at %s/console/signin", base)
	}
	analyst := demoUsers[1]
	form := url.Values{"csrf": {string(m[1])}, "user": {analyst.name}, "password": {analyst.password}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/console/signin", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/console/search" {
		return fmt.Errorf("console: signing in as %s ended at %s (%s)", analyst.name, resp.Request.URL.Path, resp.Status)
	}
	const q = "churn_min=0.2&status=active"
	t0 := time.Now()
	_, b, err := get("/console/data/customers?" + q)
	if err != nil {
		return err
	}
	rt := time.Since(t0)
	var console, apiCount struct{ Count int }
	if err := json.Unmarshal(b, &console); err != nil {
		return fmt.Errorf("console: live count: %.200s", b)
	}
	_, b, err = get("/v1/customers?"+q+"&limit=1", "X-API-Key", demoAPIKeys[1].secret)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &apiCount); err != nil || apiCount.Count != console.Count {
		return fmt.Errorf("console: live count %d, the API's %d", console.Count, apiCount.Count)
	}
	fmt.Fprintf(w, "\nStaff console: open %s/console/ and sign in as %s.\n"+
		"  (checked: %s signed in; the live count of %s is %d, the API's too; round trip %.1f ms)\n",
		base, demoUserList(), analyst.name, q, console.Count, float64(rt.Microseconds())/1000)
	return nil
}
