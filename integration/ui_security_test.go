package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/api"
	"github.com/zinc-edu/orchestrator/internal/grading"
)

// recordCSP makes every document of the tab collect what its
// Content-Security-Policy blocks in window.cspViolations.
func recordCSP(t *testing.T, ctx context.Context) {
	t.Helper()
	_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.cspViolations.push(e.violatedDirective + " " + e.blockedURI));`,
	})
	require.NoError(t, err)
}

// consoleLog collects what the pages' scripts report as errors: console
// errors (htmx logs its own with console.error) and uncaught exceptions.
type consoleLog struct {
	mu   sync.Mutex
	errs []string
}

func recordConsole(t *testing.T, ctx context.Context) *consoleLog {
	t.Helper()
	l := &consoleLog{}
	err := chromedp.Listen(ctx, func(ev any) {
		var msg string
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type != runtime.ConsoleAPICalledTypeError && e.Type != runtime.ConsoleAPICalledTypeAssert {
				return
			}
			var parts []string
			for _, a := range e.Args {
				if a.Value != nil {
					parts = append(parts, string(a.Value))
				} else {
					parts = append(parts, a.Description)
				}
			}
			msg = "console." + string(e.Type) + ": " + strings.Join(parts, " ")
		case *runtime.EventExceptionThrown:
			msg = "exception: " + e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
		default:
			return
		}
		l.mu.Lock()
		l.errs = append(l.errs, msg)
		l.mu.Unlock()
	})
	require.NoError(t, err)
	return l
}

func (l *consoleLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.errs
	l.errs = nil
	return out
}

// referers records the Referer of every request a server receives.
type referers struct {
	mu   sync.Mutex
	seen []string
}

func (r *referers) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if ref := req.Header.Get("Referer"); ref != "" {
			r.mu.Lock()
			r.seen = append(r.seen, req.Method+" "+req.URL.Path+" from "+ref)
			r.mu.Unlock()
		}
		h.ServeHTTP(w, req)
	})
}

func (r *referers) withToken() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.seen {
		if strings.Contains(s, browserToken) || strings.Contains(s, "token=") {
			out = append(out, s)
		}
	}
	return out
}

// violations reads the current document's recorded CSP violations.
func violations(t *testing.T, ctx context.Context) []string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.cspViolations || ["window.cspViolations missing"]`))
	require.NoError(t, err)
	return v
}

// apiCookies lists the browser's cookies for the API's origin.
func apiCookies(t *testing.T, ctx context.Context, apiURL string) []*network.Cookie {
	t.Helper()
	got, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{apiURL + "/ui/"}})
	require.NoError(t, err)
	return got.Cookies
}

// TestCrossSiteSignInInChromium follows a ?token= link from a page of
// another site: the browser must stop at the "Sign in" page with no
// session, and sign in only with its button, ending on the target page
// with the token gone from the address bar. Neither page may trip the
// Content-Security-Policy or send the token in a Referer, to this origin
// or any other.
func TestCrossSiteSignInInChromium(t *testing.T) {
	ctx, cancel := context.WithTimeout(browser(t), 90*time.Second)
	t.Cleanup(cancel)
	st := startStack(t, "", nil)
	apiRefs, otherRefs := &referers{}, &referers{}
	ts := apiServerWith(t, st, api.Config{TemporalUIURL: "http://127.0.0.1:8233"}, apiRefs.wrap)
	seeded, err := st.Seed(t.Context(), sleepConfig("0"), textDeliveries(1))
	require.NoError(t, err)

	target := ts.URL + "/ui/?token=" + url.QueryEscape(browserToken) + "&view=all"
	// localhost is another site than 127.0.0.1 (not only another origin),
	// so Chromium sends Sec-Fetch-Site: cross-site.
	other := httptest.NewServer(otherRefs.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		// An unsafe-url policy: the link itself sends its full URL, so
		// only the API's pages can keep the token out of a Referer.
		fmt.Fprintf(w, `<!doctype html><meta name="referrer" content="unsafe-url"><title>elsewhere</title><a id="go" href="%s">open ZINC</a>`, target)
	})))
	t.Cleanup(other.Close)
	otherURL := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)

	recordCSP(t, ctx)
	console := recordConsole(t, ctx)

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(otherURL+"/"),
		chromedp.WaitVisible(chromedp.ID("go")),
		chromedp.Click(chromedp.ID("go")),
		chromedp.WaitVisible(chromedp.ID("sign-in")),
	))
	location, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	assert.Contains(t, location, ts.URL+"/ui/?", "the sign-in page is the link's own URL")
	assert.Empty(t, apiCookies(t, ctx, ts.URL), "following the link alone must not sign in")
	assert.Empty(t, violations(t, ctx), "blocked on the sign-in page by the Content-Security-Policy")

	// A link to another site followed from the sign-in page must not carry
	// the URL it holds the token in.
	_, err = chromedp.Run(ctx, chromedp.Evaluate[any](`(() => { const a = document.createElement("a");
a.href = `+jsString(otherURL+"/after")+`; document.body.append(a); a.click(); return null; })()`))
	require.NoError(t, err)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		loc, err := chromedp.Run(ctx, chromedp.Location())
		assert.NoError(c, err)
		assert.Equal(c, otherURL+"/after", loc)
	}, 10*time.Second, 100*time.Millisecond)
	assert.Empty(t, otherRefs.withToken(), "the token left in a Referer to another site")

	// Back to the sign-in page, then sign in with its button.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.NavigateBack(),
		chromedp.WaitVisible(chromedp.ID("sign-in")),
	))
	assert.Empty(t, apiCookies(t, ctx, ts.URL), "the sign-in page signed in on its own")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(`#sign-in button[type="submit"]`),
		chromedp.WaitVisible(chromedp.ID("collection-"+seeded.CollectionID)),
	))
	location, err = chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	assert.Equal(t, ts.URL+"/ui/?view=all", location, "the token leaves the address bar; other parameters stay")
	cookies := apiCookies(t, ctx, ts.URL)
	require.Len(t, cookies, 1)
	assert.Equal(t, "zinc_session", cookies[0].Name)
	assert.Equal(t, browserToken, cookies[0].Value)
	assert.True(t, cookies[0].HTTPOnly)
	assert.Equal(t, network.CookieSameSiteStrict, cookies[0].SameSite)
	assert.Empty(t, violations(t, ctx), "blocked on the signed-in page by the Content-Security-Policy")
	referrer, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.referrer`))
	require.NoError(t, err)
	assert.NotContains(t, referrer, "token=")
	assert.Empty(t, apiRefs.withToken(), "the token was sent back in a Referer")
	assert.Empty(t, otherRefs.withToken(), "the token left in a Referer to another site")
	assert.Empty(t, console.take(), "errors in the console")

	// Nor does the token stay in the tab's history, where Back would
	// show it in the address bar again.
	hist, err := chromedp.Call(ctx, page.GetNavigationHistory, cdp.Empty{})
	require.NoError(t, err)
	require.NotEmpty(t, hist.Entries)
	for _, e := range hist.Entries {
		assert.NotContains(t, e.URL, "token=", "a history entry keeps the token")
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestInstructorPagesWithoutEventStream opens every kind of instructor page
// in Chromium and requires none to trip the Content-Security-Policy or log
// an error. The batch page is opened while the caller's one event stream
// is taken, so the page cannot follow the stream and must keep itself up
// to date by polling until the batch completes.
func TestInstructorPagesWithoutEventStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(browser(t), 90*time.Second)
	t.Cleanup(cancel)
	st := startStack(t, "", nil)
	ts := apiServerWith(t, st, api.Config{TemporalUIURL: "http://127.0.0.1:8233", StreamsPerKey: 1}, nil)

	const n = 3
	seeded, err := st.Seed(t.Context(), sleepConfig("1"), textDeliveries(n))
	require.NoError(t, err)
	b := startBatchOver(t, ts.URL, seeded.CollectionID, seeded.ConfigID, 1)

	// Hold the key's only event stream.
	sctx, stop := context.WithCancel(t.Context())
	t.Cleanup(stop)
	req, err := http.NewRequestWithContext(sctx, http.MethodGet, ts.URL+"/v1/batches/"+b.ID+"/events", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+browserToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	require.Equal(t, http.StatusOK, resp.StatusCode)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
		}
	}()

	recordCSP(t, ctx)
	console := recordConsole(t, ctx)
	// The recorder itself works: an error the page logs is seen.
	_, err = chromedp.Run(ctx, chromedp.Evaluate[any](`console.error("probe"), null`))
	require.NoError(t, err)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Contains(c, strings.Join(console.take(), "\n"), "probe")
	}, 5*time.Second, 50*time.Millisecond)
	check := func(what string) {
		t.Helper()
		assert.Empty(t, violations(t, ctx), "%s: blocked by the Content-Security-Policy", what)
		assert.Empty(t, console.take(), "%s: errors in the console", what)
	}

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/ui/batches/"+b.ID+"?token="+browserToken),
		chromedp.WaitVisible(chromedp.ID("progress")),
	))
	read := func() pageState {
		s, err := chromedp.Run(ctx, chromedp.Evaluate[pageState](readPage))
		require.NoError(t, err)
		return s
	}
	seen := map[int]bool{}
	live := false
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		s := read()
		seen[s.Done] = true
		live = live || s.Live
		assert.Equal(c, string(grading.BatchCompleted), s.Status)
		assert.Equal(c, n, s.Done)
		assert.Equal(c, n, s.Graded)
	}, 60*time.Second, 200*time.Millisecond)
	assert.False(t, live, "the page followed a stream the API refused")
	assert.GreaterOrEqual(t, len(seen), 2, "the page never moved before the end: %v", keys(seen))
	// The refused stream is reported by the browser's network log, not by
	// the page's scripts.
	check("running batch page, polling")

	pages := []struct{ what, path, wait string }{
		{"finished batch page", "/ui/batches/" + b.ID, "#progress"},
		{"collections", "/ui/", "#collection-" + seeded.CollectionID},
		{"error page", "/ui/batches/no-such-batch", "#error"},
	}
	for _, p := range pages {
		require.NoError(t, chromedp.Do(ctx,
			chromedp.Navigate(ts.URL+p.path),
			chromedp.WaitVisible(p.wait),
		), p.what)
		check(p.what)
	}
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/ui/batches/"+b.ID),
		chromedp.WaitVisible("tr.delivery a"),
	))
	h, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("tr.delivery a").href`))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(h),
		chromedp.WaitVisible(chromedp.ID("staff")),
	))
	check("delivery page")

	// A refused key: 401 page, session untouched.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/ui/?token=zinc_no-such-key"),
		chromedp.WaitVisible(chromedp.ID("error")),
	))
	check("401 page")
	cookies := apiCookies(t, ctx, ts.URL)
	require.Len(t, cookies, 1)
	assert.Equal(t, browserToken, cookies[0].Value, "a refused key left the session alone")
}

// startBatchOver starts a batch through the API as the admin key.
func startBatchOver(t *testing.T, apiURL, collectionID, configID string, concurrency int) grading.Batch {
	t.Helper()
	body, err := json.Marshal(map[string]any{"collection_id": collectionID, "config_id": configID, "concurrency": concurrency})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, apiURL+"/v1/batches", strings.NewReader(string(body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+browserToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	var b grading.Batch
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&b))
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	return b
}
