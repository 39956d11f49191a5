package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/api"
	"github.com/zinc-edu/orchestrator/internal/auth"
	"github.com/zinc-edu/orchestrator/internal/ci"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/harness"
)

// chromium finds Debian's headless-capable Chromium. Outside CI a missing
// browser skips the test; in CI (CI=true) it fails it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	ci.SkipUnlessCI(t, "chromium is not installed (apt-get install chromium)")
	return ""
}

// browser starts a headless Chromium with a fresh profile and returns a
// tab's context.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	require.NoError(t, chromedp.Do(ctx), "start chromium")
	return ctx
}

// browserToken is the admin API key the browser signs in with.
const browserToken = auth.KeyPrefix + "browser-test-admin"

// apiServer serves the real API handler over the stack.
func apiServer(t *testing.T, st *harness.Stack, prefix string) *httptest.Server {
	t.Helper()
	return apiServerWith(t, st, api.Config{TemporalUIURL: "http://127.0.0.1:8233"}, nil)
}

// apiServerWith is apiServer with a given configuration; wrap, if set,
// wraps the API's handler (to record what the browser sends).
func apiServerWith(t *testing.T, st *harness.Stack, cfg api.Config, wrap func(http.Handler) http.Handler) *httptest.Server {
	t.Helper()
	h, err := st.API(t.Context(), cfg, browserToken)
	require.NoError(t, err)
	if wrap != nil {
		h = wrap(h)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(func() {
		// A page still open holds its event stream, and Close waits for
		// every request: end the connections first.
		ts.CloseClientConnections()
		ts.Close()
	})
	return ts
}

// pageState is what the batch page's live progress fragment shows.
type pageState struct {
	Status string `json:"status"`
	Done   int    `json:"done"`
	Total  int    `json:"total"`
	Paused bool   `json:"paused"`
	Rows   int    `json:"rows"`
	Graded int    `json:"graded"`
	// Live is set while the page follows the batch's event stream.
	Live bool `json:"live"`
	// Violations lists what the page's Content-Security-Policy blocked.
	Violations []string `json:"violations"`
}

const readPage = `(() => {
  const p = document.getElementById("progress");
  if (!p) return {};
  return {
    status: p.dataset.status, done: +p.dataset.done, total: +p.dataset.total,
    paused: p.dataset.paused === "true",
    rows: document.querySelectorAll("tr.delivery").length,
    graded: document.querySelectorAll('tr.delivery[data-status="graded"]').length,
    live: window.zincLive === true,
    violations: window.cspViolations || [],
  };
})()`

// TestInstructorPageInChromium starts a slow batch, opens its page in
// headless Chromium through a ?token= link, watches the bar move, pauses
// and resumes it with the page's buttons, and keeps a screenshot taken
// mid-batch as an artifact (go test -artifacts keeps it under -outputdir).
func TestInstructorPageInChromium(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, "", nil)
	ts := apiServer(t, st, "it-"+"testinstructorpageinchromium")

	const n = 6
	seeded, err := st.Seed(t.Context(), sleepConfig("1"), textDeliveries(n))
	require.NoError(t, err)
	body, err := json.Marshal(map[string]any{"collection_id": seeded.CollectionID, "config_id": seeded.ConfigID, "concurrency": 1})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+"/v1/batches", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+browserToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var b grading.Batch
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&b))
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusAccepted, resp.StatusCode)

	// Record whatever the pages' Content-Security-Policy blocks: the page
	// must work without anything it withholds (inline script, eval).
	_, err = chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.cspViolations.push(e.violatedDirective + " " + e.blockedURI));`,
	})
	require.NoError(t, err)

	// Sign in with the link; the token must leave the address bar and end
	// up in an HttpOnly, SameSite=Strict cookie.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/ui/batches/"+b.ID+"?token="+browserToken+""),
		chromedp.WaitVisible(chromedp.ID("progress")),
	))
	location, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	assert.Equal(t, ts.URL+"/ui/batches/"+b.ID, location)
	got, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	require.NoError(t, err)
	cookies := got.Cookies
	require.Len(t, cookies, 1)
	assert.Equal(t, "zinc_session", cookies[0].Name)
	assert.Equal(t, browserToken, cookies[0].Value)
	assert.True(t, cookies[0].HTTPOnly)
	assert.Equal(t, network.CookieSameSiteStrict, cookies[0].SameSite)

	read := func() pageState {
		s, err := chromedp.Run(ctx, chromedp.Evaluate[pageState](readPage))
		require.NoError(t, err)
		return s
	}

	// The bar moves: the page shows at least two different counts of done
	// deliveries before the batch ends, without a reload, following the
	// batch's event stream rather than polling.
	seen := map[int]bool{}
	var shot []byte
	live := false
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		s := read()
		seen[s.Done] = true
		live = live || s.Live
		if s.Done > 0 && s.Done < s.Total && shot == nil {
			var err error
			shot, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
			require.NoError(t, err)
		}
		assert.GreaterOrEqual(c, s.Done, 2)
		assert.NotNil(c, shot)
	}, 60*time.Second, 200*time.Millisecond)
	require.GreaterOrEqual(t, len(seen), 2, "the bar never moved: %v", seen)
	assert.True(t, live, "the page never connected to GET /v1/batches/{id}/events")
	shotPath := filepath.Join(t.ArtifactDir(), "batch-page-mid-batch.png")
	require.NoError(t, os.WriteFile(shotPath, shot, 0o644))
	t.Logf("screenshot of the batch page mid-batch: %s", shotPath)

	// Pause from the page: the workflow reports paused, the page says so,
	// and nothing more is graded once the delivery in flight is done.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("pause"))))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		v, err := st.Batches.Get(t.Context(), b.ID)
		if !assert.NoError(c, err) {
			return
		}
		assert.True(c, v.Progress.Paused)
		assert.Zero(c, v.Progress.InFlight)
		s := read()
		assert.True(c, s.Paused)
		assert.Equal(c, v.Progress.Done, s.Done, "the page shows what the workflow reports")
		status, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("control-result")))
		assert.NoError(c, err)
		assert.Contains(c, status, "paused")
	}, 30*time.Second, 200*time.Millisecond)
	v, err := st.Batches.Get(t.Context(), b.ID)
	require.NoError(t, err)
	pausedAt := v.Progress.Done
	require.Less(t, pausedAt, n, "the batch finished before it could be paused")

	// Widen the window from the page while paused: the PATCH carries a
	// JSON number, as the API requires.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("concurrency"), "2"),
		chromedp.Click(chromedp.ID("set-concurrency")),
	))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		v, err := st.Batches.Get(t.Context(), b.ID)
		if assert.NoError(c, err) {
			assert.Equal(c, 2, v.Progress.Concurrency)
		}
	}, 30*time.Second, 200*time.Millisecond)

	// Resume from the page; the batch runs to the end and every row turns
	// graded on the page.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("resume"))))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		s := read()
		assert.Equal(c, string(grading.BatchCompleted), s.Status)
		assert.Equal(c, n, s.Done)
		assert.False(c, s.Paused)
		assert.Equal(c, n, s.Rows)
		assert.Equal(c, n, s.Graded)
	}, 60*time.Second, 250*time.Millisecond)
	res, err := st.Wait(t.Context(), b)
	require.NoError(t, err)
	require.Equal(t, n, res.Summary.Counts.Graded)
	assert.Empty(t, read().Violations, "blocked by the Content-Security-Policy")

	// The delivery page shows the stage output to staff and the student
	// view beside it. The rows are rendered again as events arrive, so the
	// link is read in one script: a node found by one protocol call may be
	// gone by the next ("Could not find node with given id").
	var href string
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		h, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("tr.delivery a")?.href ?? ""`))
		assert.NoError(c, err)
		assert.Contains(c, h, "/ui/deliveries/")
		href = h
	}, 10*time.Second, 100*time.Millisecond)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(href),
		chromedp.WaitVisible(chromedp.ID("staff")),
	))
	staff, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("staff")))
	require.NoError(t, err)
	student, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("student")))
	require.NoError(t, err)
	assert.Contains(t, staff, "nap")
	assert.Contains(t, student, "nap")
	t.Logf("batch page saw done counts %v; paused at %s of %d", keys(seen), strconv.Itoa(pausedAt), n)
}

func keys(m map[int]bool) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
