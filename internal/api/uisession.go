package api

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
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
//   - GET /ui/…?token=KEY (or /ui?token=KEY) stores KEY in an HttpOnly, SameSite=Strict session
//     cookie and redirects to the same URL without the token, so the key
//     leaves the address bar and the history; a link followed from another
//     site first asks (see signIn);
//   - a request carrying the cookie and no Authorization header gets
//     "Authorization: Bearer KEY", so whatever authenticates the API
//     authenticates the pages and their htmx calls alike;
//   - a state-changing request authenticated by the cookie must also carry
//     the HX-Request header htmx sends (a plain cross-site form cannot set
//     it) and, when the browser names its Origin, come from this host.
//     The one exception is the payload codec called by the Temporal UI
//     (see codecFromUI).
func (s *Server) withSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if signInURL(r) {
			s.signIn(w, r)
			return
		}
		c, err := r.Cookie(sessionCookie)
		if err != nil || c.Value == "" || r.Header.Get("Authorization") != "" {
			next.ServeHTTP(w, r)
			return
		}
		if changesState(r.Method) && !s.codecFromUI(r) {
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

// codecFromUI reports whether r is the Temporal UI calling the payload
// codec: a POST to /v1/codec/{encode,decode} from one of CodecOrigins. The
// UI sends the browser's cookies (IncludeCredentials) but never htmx's
// header; the codec changes nothing, and CORS lets only those origins read
// its answer, so the session cookie may authenticate it.
func (s *Server) codecFromUI(r *http.Request) bool {
	if r.Method != http.MethodPost || (r.URL.Path != "/v1/codec/encode" && r.URL.Path != "/v1/codec/decode") {
		return false
	}
	o := r.Header.Get("Origin")
	return o != "" && slices.Contains(s.cfg.CodecOrigins, o)
}

// signIn answers a /ui/ URL carrying ?token=: set the cookie (or clear it
// for an empty token) and redirect to the URL without it. A token that is
// not a valid credential is refused with 401 and the cookie left alone.
//
// A browser that says the link came from another site (Sec-Fetch-Site) is
// asked first: otherwise any page could sign a visitor in with its author's
// key and read what the visitor then uploads under it (login CSRF). Typed
// or bookmarked URLs, headless browsers and clients without the header are
// signed in at once, as before.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
		s.askSignIn(w, r, q)
		return
	}
	token := strings.TrimSpace(q.Get("token"))
	q.Del("token")
	c := &http.Cookie{
		Name:     sessionCookie,
		Value:    token,
		Path:     "/",
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
		Secure:   viaHTTPS(r),
		MaxAge:   sessionMaxAge,
	}
	if token == "" || !validCookieValue(token) {
		c.Value, c.MaxAge = "", -1
	} else if _, err := s.auth.Authenticate(r.Context(), token); err != nil {
		// A mistyped, revoked or expired key signs nobody in and leaves
		// the browser's session as it was.
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("WWW-Authenticate", "Bearer")
		s.writeUIError(w, http.StatusUnauthorized, err.Error())
		return
	}
	http.SetCookie(w, c)
	target := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
	if target.Path == "/ui" {
		target.Path = "/ui/"
	}
	w.Header().Set("Cache-Control", "no-store")
	// Keep the token out of the page the browser is sent on to.
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, target.String(), http.StatusSeeOther)
}

// signInURL reports whether r is a link that signs a browser in: a GET (or
// HEAD) of /ui or a page below it carrying ?token=. Another method with a
// token is no sign-in; a client without Sec-Fetch-Site could otherwise be
// signed in by a cross-site form post.
func signInURL(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	return (r.URL.Path == "/ui" || strings.HasPrefix(r.URL.Path, "/ui/")) && r.URL.Query().Has("token")
}

// askSignIn shows a page whose button repeats the request from this site.
func (s *Server) askSignIn(w http.ResponseWriter, r *http.Request, q url.Values) {
	type field struct{ Name, Value string }
	var fields []field
	for _, name := range slices.Sorted(maps.Keys(q)) {
		for _, v := range q[name] {
			fields = append(fields, field{name, v})
		}
	}
	data := struct {
		Title  string
		Action string
		Fields []field
	}{"Sign in", r.URL.Path, fields}
	// The page holds the token: keep it out of any Referer.
	w.Header().Set("Referrer-Policy", "no-referrer")
	if err := s.render(w, http.StatusOK, "signin.html", "", data); err != nil {
		s.writeUIError(w, http.StatusInternalServerError, "the sign-in page could not be shown")
	}
}

// viaHTTPS reports whether the browser reached the API over HTTPS: its own
// TLS, or a proxy that terminated TLS (Azure Container Apps' ingress) and
// said so. A forged header can only make the sender's own cookie Secure.
func viaHTTPS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https")
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
