package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"time"
)

// client talks to the API. Every request goes through do, the one place
// that would add credentials.
type client struct {
	base  string
	token string // API key sent as a bearer credential, when set
	http  *http.Client
}

func newClient(base string) *client {
	return &client{base: base, http: &http.Client{Timeout: 30 * time.Second}}
}

// do sends one request to url (absolute, or a path under the API) and
// returns the status and body.
func (c *client) do(ctx context.Context, method, url, contentType string, body io.Reader) (int, []byte, error) {
	if strings.HasPrefix(url, "/") {
		url = c.base + url
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return 0, nil, fmt.Errorf("new request: %w", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("read %s %s: %w", method, url, err)
	}
	return resp.StatusCode, data, nil
}

func (c *client) get(ctx context.Context, url string) (int, []byte, error) {
	return c.do(ctx, http.MethodGet, url, "", nil)
}

// postJSON posts v and decodes the answer into out when the status is want.
func (c *client) post(ctx context.Context, path, contentType string, body io.Reader, want int, out any) error {
	status, data, err := c.do(ctx, http.MethodPost, path, contentType, body)
	if err != nil {
		return err
	}
	if status != want {
		return fmt.Errorf("POST %s: status %d, want %d: %s", path, status, want, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode POST %s answer: %w: %s", path, err, data)
	}
	return nil
}

func (c *client) postJSON(ctx context.Context, path string, in any, want int, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	return c.post(ctx, path, "application/json", bytes.NewReader(b), want, out)
}

// upload posts one delivery of user with its files.
func (c *client) upload(ctx context.Context, collectionID, user string, files map[string][]byte, out any) error {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	if err := w.WriteField("user", user); err != nil {
		return err
	}
	for name, data := range files {
		part, err := w.CreateFormFile("files", name)
		if err != nil {
			return err
		}
		if _, err := part.Write(data); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.post(ctx, "/v1/collections/"+collectionID+"/deliveries", w.FormDataContentType(), &body, http.StatusCreated, out)
}

// getJSON fetches path and decodes a 200 answer into out.
func (c *client) getJSON(ctx context.Context, path string, out any) error {
	status, data, err := c.get(ctx, path)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("GET %s: status %d: %s", path, status, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode GET %s: %w", path, err)
	}
	return nil
}
