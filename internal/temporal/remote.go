package temporal

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// FetchConfiguration asks ZINC core for the Temporal settings of an
// extension: GET {coreURL}/v1/extensions/{name}/configuration, with token
// (an admin API key; the route is admin-only) as its bearer credential
// when it is not empty.
func FetchConfiguration(ctx context.Context, hc *http.Client, coreURL, token, name string) (Configuration, error) {
	u, err := url.JoinPath(coreURL, "v1", "extensions", name, "configuration")
	if err != nil {
		return Configuration{}, fmt.Errorf("build configuration url from %q: %w", coreURL, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Configuration{}, fmt.Errorf("build configuration request: %w", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Configuration{}, fmt.Errorf("fetch configuration of %s: %w", name, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		hint := ""
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			hint = " (ZINC_CORE_TOKEN must be an admin API key)"
		}
		return Configuration{}, fmt.Errorf("fetch configuration of %s: %s answered %s%s", name, u, resp.Status, hint)
	}
	var c Configuration
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		return Configuration{}, fmt.Errorf("decode configuration of %s: %w", name, err)
	}
	return c, nil
}
