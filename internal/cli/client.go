package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/workflows"
)

// Client calls the ZINC API.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// NewClient returns a client of the API at baseURL, sending token as a
// bearer credential when it is not empty.
func NewClient(baseURL, token string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("api url %q: want http(s)://host[:port]", baseURL)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Minute}
	}
	return &Client{base: u, token: token, http: hc}, nil
}

// APIError is an error answer of the API.
type APIError struct {
	Status  int
	Message string
	Details json.RawMessage
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("%d %s", e.Status, e.Message)
	if len(e.Details) > 0 && string(e.Details) != "null" {
		msg += ": " + string(e.Details)
	}
	return msg
}

// IsStatus reports whether err is an API answer with that status.
func IsStatus(err error, status int) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == status
}

// do sends a request and decodes a JSON answer into out (when not nil).
func (c *Client) do(ctx context.Context, method, path string, contentType string, body io.Reader, out any) error {
	u := *c.base
	p, q, _ := strings.Cut(path, "?")
	u.Path += p
	u.RawQuery = q
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return fmt.Errorf("build request %s %s: %w", method, path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read answer of %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		ae := &APIError{Status: resp.StatusCode, Message: http.StatusText(resp.StatusCode)}
		var body struct {
			Error   string          `json:"error"`
			Details json.RawMessage `json:"details"`
		}
		if json.Unmarshal(data, &body) == nil && body.Error != "" {
			ae.Message, ae.Details = body.Error, body.Details
		} else if what := foreignAnswer(resp.Header.Get("Content-Type"), data); what != "" {
			ae.Message += ": " + what
		}
		return ae
	}
	if out == nil {
		return nil
	}
	if t := bytes.TrimSpace(data); (len(t) == 0 || bytes.Equal(t, []byte("null"))) && isObject(out) {
		// Decoding would leave the object empty without an error: a
		// command would print an empty id and succeed. (An empty list may
		// come as null.)
		return fmt.Errorf("decode answer of %s %s: the answer is empty, not the ZINC API's JSON (does %s name another server?)", method, path, EnvAPIURL)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode answer of %s %s: %w", method, path, err)
	}
	return nil
}

// isObject reports whether out points to a struct, which every answer the
// API gives as an object decodes into.
func isObject(out any) bool {
	t := reflect.TypeOf(out)
	return t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct
}

// maxForeignText bounds how much of an error answer that is not the API's
// JSON is quoted.
const maxForeignText = 200

// foreignAnswer describes an error answer that is not the API's JSON (a
// proxy's or another server's): the first line of a text answer, or what
// kind of answer it is, so that the message says more than the status.
func foreignAnswer(contentType string, data []byte) string {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "" || mt == "text/plain" {
		line, _, _ := strings.Cut(strings.TrimSpace(strings.ToValidUTF8(string(data), "\uFFFD")), "\n")
		line = strings.TrimSpace(line)
		if r := []rune(line); len(r) > maxForeignText {
			line = string(r[:maxForeignText]) + "…"
		}
		if line != "" {
			return strconv.Quote(line)
		}
		return ""
	}
	return fmt.Sprintf("the answer is %s, not the ZINC API's JSON (a proxy's, or %s names another server)", mt, EnvAPIURL)
}

func (c *Client) doJSON(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	ct := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body, ct = bytes.NewReader(b), "application/json"
	}
	return c.do(ctx, method, path, ct, body, out)
}

// Delivery is a stored delivery as the API returns it.
type Delivery struct {
	ID           string    `json:"id"`
	CollectionID string    `json:"collection_id"`
	User         string    `json:"user"`
	SubmittedAt  time.Time `json:"submitted_at"`
	Checksum     string    `json:"checksum"`
	Files        int       `json:"files,omitempty"`
}

// UploadFile is one file of a delivery to upload.
type UploadFile struct {
	Name string
	Data []byte
}

// CreateDelivery uploads one user's files to a collection.
func (c *Client) CreateDelivery(ctx context.Context, collectionID, user string, files []UploadFile) (Delivery, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := mw.WriteField("user", user); err != nil {
		return Delivery{}, fmt.Errorf("encode delivery: %w", err)
	}
	for _, f := range files {
		w, err := mw.CreateFormFile("files", f.Name)
		if err != nil {
			return Delivery{}, fmt.Errorf("encode delivery: %w", err)
		}
		if _, err := w.Write(f.Data); err != nil {
			return Delivery{}, fmt.Errorf("encode delivery: %w", err)
		}
	}
	if err := mw.Close(); err != nil {
		return Delivery{}, fmt.Errorf("encode delivery: %w", err)
	}
	var d Delivery
	err := c.do(ctx, http.MethodPost, "/v1/collections/"+url.PathEscape(collectionID)+"/deliveries", mw.FormDataContentType(), &buf, &d)
	return d, err
}

// maxListPages bounds how many pages Deliveries follows, so a server that
// repeats its cursor cannot keep the client looping.
const maxListPages = 10000

// Deliveries lists the deliveries of a collection. It accepts both a plain
// JSON array and a page {"items": [...], "next": cursor} followed by
// ?cursor= until next is empty.
func (c *Client) Deliveries(ctx context.Context, collectionID string) ([]Delivery, error) {
	var all []Delivery
	cursor := ""
	// A cursor seen before means the pages loop: following it would repeat
	// them forever, and stopping would pass a partial list off as whole.
	seen := map[string]bool{"": true}
	for range maxListPages {
		path := "/v1/collections/" + url.PathEscape(collectionID) + "/deliveries"
		if cursor != "" {
			path += "?cursor=" + url.QueryEscape(cursor)
		}
		var raw json.RawMessage
		if err := c.do(ctx, http.MethodGet, path, "", nil, &raw); err != nil {
			return nil, err
		}
		var page struct {
			Items []Delivery `json:"items"`
			Next  string     `json:"next"`
		}
		if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' {
			if err := json.Unmarshal(raw, &page.Items); err != nil {
				return nil, fmt.Errorf("decode deliveries: %w", err)
			}
		} else if err := json.Unmarshal(raw, &page); err != nil {
			return nil, fmt.Errorf("decode deliveries: %w", err)
		}
		all = append(all, page.Items...)
		if page.Next == "" {
			return all, nil
		}
		if seen[page.Next] {
			return nil, fmt.Errorf("list deliveries of %s: the API repeated cursor %q, so its pages loop", collectionID, page.Next)
		}
		seen[page.Next] = true
		cursor = page.Next
	}
	return nil, fmt.Errorf("list deliveries of %s: more than %d pages", collectionID, maxListPages)
}

// StartBatchRequest is the body of POST /v1/batches.
type StartBatchRequest struct {
	CollectionID string `json:"collection_id"`
	ConfigID     string `json:"config_id"`
	Concurrency  int    `json:"concurrency,omitempty"`
	Lane         string `json:"lane,omitempty"`
	Deliveries   string `json:"deliveries,omitempty"`
}

// StartBatch starts a batch.
func (c *Client) StartBatch(ctx context.Context, req StartBatchRequest) (grading.Batch, error) {
	var b grading.Batch
	if err := c.doJSON(ctx, http.MethodPost, "/v1/batches", req, &b); err != nil {
		return grading.Batch{}, err
	}
	return b, requireBatchID(b, "POST /v1/batches")
}

// requireBatchID refuses a success answer that names no batch: printed, it
// would be an empty line that a script takes for the batch's id.
func requireBatchID(b grading.Batch, call string) error {
	if b.ID == "" {
		return fmt.Errorf("decode answer of %s: it names no batch id, so it is not the ZINC API's answer (does %s name another server?)", call, EnvAPIURL)
	}
	return nil
}

// BatchView is GET /v1/batches/{id}.
type BatchView struct {
	grading.Batch
	Summary  *grading.Summary   `json:"summary"`
	Progress workflows.Progress `json:"progress"`
}

// Batch reads a batch with its progress.
func (c *Client) Batch(ctx context.Context, id string) (BatchView, error) {
	var v BatchView
	err := c.doJSON(ctx, http.MethodGet, "/v1/batches/"+url.PathEscape(id), nil, &v)
	return v, err
}

// Control posts a control action (pause, resume, cancel) on a batch.
func (c *Client) Control(ctx context.Context, id, action string) error {
	return c.doJSON(ctx, http.MethodPost, "/v1/batches/"+url.PathEscape(id)+"/"+action, nil, nil)
}

// SetConcurrency changes a running batch's window.
func (c *Client) SetConcurrency(ctx context.Context, id string, n int) error {
	return c.doJSON(ctx, http.MethodPatch, "/v1/batches/"+url.PathEscape(id), map[string]int{"concurrency": n}, nil)
}

// RegradeFailed starts a batch over the failures of a finished one.
func (c *Client) RegradeFailed(ctx context.Context, id string) (grading.Batch, error) {
	var b grading.Batch
	path := "/v1/batches/" + url.PathEscape(id) + "/regrade-failed"
	if err := c.doJSON(ctx, http.MethodPost, path, nil, &b); err != nil {
		return grading.Batch{}, err
	}
	return b, requireBatchID(b, "POST "+path)
}

// ResultRow is one delivery of GET /v1/batches/{id}/results; fields the
// command line does not read are kept in Raw for --format json.
type ResultRow struct {
	DeliveryID string   `json:"delivery_id"`
	User       string   `json:"user"`
	Status     string   `json:"status"`
	Score      *float64 `json:"score"`
	MaxScore   float64  `json:"max_score"`
	Diagnostic string   `json:"diagnostic,omitempty"`
	Stages     []struct {
		Name     string `json:"name"`
		Scenario string `json:"scenario,omitempty"`
		State    string `json:"state"`
	} `json:"stages"`
}

// Results reads a batch's results: the decoded rows and the raw JSON.
func (c *Client) Results(ctx context.Context, id string) ([]ResultRow, json.RawMessage, error) {
	var raw json.RawMessage
	if err := c.doJSON(ctx, http.MethodGet, "/v1/batches/"+url.PathEscape(id)+"/results", nil, &raw); err != nil {
		return nil, nil, err
	}
	var rows []ResultRow
	if err := json.Unmarshal(raw, &rows); err != nil {
		return nil, nil, fmt.Errorf("decode results: %w", err)
	}
	return rows, raw, nil
}
