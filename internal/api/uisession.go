package api

import (
	"net/http"
	"net/url"
	"strings"
)

// sessionCookie holds the API credential of a browser signed in with
// ?token= on a /ui/ URL.
const sessionCookie = "zinc_session"

// sessionMaxAge bounds how long a browser stays signed in; the credential
// itself may expire sooner.
const sessionMaxAge = 12 * 60 * 60

// withSession lets a browser use the API with the same credentials as any
// client. It runs before authentication:
//
//   - GET /ui/…?token=KEY stores KEY in an HttpOnly, SameSite=Strict session
//     cookie and redirects to the same URL without the token, so the key
//     leaves the address bar and the history;
//   - a request carrying the cookie and no Authorization header gets
//     "Authorization: Bearer KEY", so whatever authenticates the API
//     authenticates the pages and their htmx calls alike;
//   - a state-changing request authenticated by the cookie must also carry
//     the HX-Request header htmx sends (a plain cross-site form cannot set
//     it) and, when the browser names its Origin, come from this host.
func withSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/ui/") && r.URL.Query().Has("token") {
			signIn(w, r)
			return
		}
		c, err := r.Cookie(sessionCookie)
		if err != nil || c.Value == "" || r.Header.Get("Authorization") != "" {
			next.ServeHTTP(w, r)
			return
		}
		if changesState(r.Method) {
			if r.Header.Get("HX-Request") != "true" {
				_ = writeJSON(w, http.StatusForbidden, errorBody{Error: "a request signed in by the session cookie must come from the ZINC pages (HX-Request header missing)"})
				return
			}
			if o := r.Header.Get("Origin"); o != "" && !sameHost(o, r.Host) {
				_ = writeJSON(w, http.StatusForbidden, errorBody{Error: "cross-origin request refused"})
				return
			}
		}
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+c.Value)
		next.ServeHTTP(w, r)
	})
}

// signIn answers a /ui/ URL carrying ?token=: set the cookie (or clear it
// for an empty token) and redirect to the URL without it.
func signIn(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	token := strings.TrimSpace(q.Get("token"))
	q.Del("token")
	c := &http.Cookie{
		Name:     sessionCookie,
		Value:    token,
		Path:     "/",
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
		Secure:   r.TLS != nil,
		MaxAge:   sessionMaxAge,
	}
	if token == "" || !validCookieValue(token) {
		c.Value, c.MaxAge = "", -1
	}
	http.SetCookie(w, c)
	target := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
	w.Header().Set("Cache-Control", "no-store")
	// Keep the token out of the page the browser is sent on to.
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, target.String(), http.StatusSeeOther)
}

// validCookieValue reports whether v can be a cookie value as is; API keys
// and JWTs always can.
func validCookieValue(v string) bool {
	return !strings.ContainsFunc(v, func(c rune) bool {
		return c <= ' ' || c >= 0x7f || c == '"' || c == ';' || c == '\\' || c == ','
	})
}

// sameHost reports whether an Origin header names host.
func sameHost(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host == host
}

// changesState reports whether a request method may change state.
func changesState(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}
