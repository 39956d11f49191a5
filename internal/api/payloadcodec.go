package api

import (
	"net/http"
	"slices"

	"go.temporal.io/sdk/converter"
)

// codecHeaders are the request headers the Temporal UI sends to a remote
// codec.
const codecHeaders = "Content-Type, Authorization, X-Namespace"

// serveCodec answers the Temporal remote codec protocol
// (POST …/encode, …/decode with {"payloads":[…]}) with the process's
// payload codec, so staff can read encrypted histories.
func (s *Server) serveCodec(h http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.allowCORS(w, r)
		// Payload lists are JSON but may hold whole results.
		r.Body = http.MaxBytesReader(w, r.Body, 4*s.cfg.MaxJSONBytes)
		h.ServeHTTP(w, r)
	}
}

// codecPreflight answers the browser's CORS preflight for the codec
// endpoint; it needs no credentials.
func (s *Server) codecPreflight(w http.ResponseWriter, r *http.Request) {
	s.allowCORS(w, r)
	w.Header().Set("Access-Control-Allow-Methods", "POST")
	w.Header().Set("Access-Control-Allow-Headers", codecHeaders)
	w.Header().Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

// allowCORS lets the configured origins (the Temporal UI) call with
// credentials.
func (s *Server) allowCORS(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" || !slices.Contains(s.cfg.CodecOrigins, origin) {
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	w.Header().Set("Access-Control-Allow-Credentials", "true")
	w.Header().Add("Vary", "Origin")
}

// codecRoutes mounts the codec endpoint when the process has a codec.
func (s *Server) codecRoutes(codec converter.PayloadCodec) {
	if codec == nil {
		return
	}
	h := converter.NewPayloadCodecHTTPHandler(codec)
	s.mux.HandleFunc("POST /v1/codec/encode", s.serveCodec(h))
	s.mux.HandleFunc("POST /v1/codec/decode", s.serveCodec(h))
	s.mux.HandleFunc("OPTIONS /v1/codec/{op}", s.codecPreflight)
}
