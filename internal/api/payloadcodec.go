package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
)

// codecHeaders are the request headers the Temporal UI sends to a remote
// codec.
const codecHeaders = "Content-Type, Authorization, X-Namespace"

// codecOp is one direction of a payload codec.
type codecOp func([]*commonpb.Payload) ([]*commonpb.Payload, error)

// serveCodec answers the Temporal remote codec protocol (POST with
// {"payloads":[…]}, answered in kind) with one direction of the process's
// payload codec, so staff can read encrypted histories. Errors are JSON
// {"error","details"} like every other answer of the API.
func (s *Server) serveCodec(op codecOp, verb string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		s.allowCORS(w, r)
		// Payload lists are JSON but may hold whole results.
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4*s.cfg.MaxJSONBytes))
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return fmt.Errorf("read codec body: %w", err)
			}
			return badRequest("read codec body: %v", err)
		}
		var in commonpb.Payloads
		if err := protojson.Unmarshal(body, &in); err != nil {
			return badRequest(`malformed payloads: want {"payloads":[…]}: %v`, err)
		}
		out, err := op(in.GetPayloads())
		if err != nil {
			return badRequest("cannot %s payloads: %v", verb, err)
		}
		b, err := protojson.Marshal(&commonpb.Payloads{Payloads: out})
		if err != nil {
			return fmt.Errorf("encode payloads: %w", err)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(b)
		return nil
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
	s.mux.HandleFunc("POST /v1/codec/encode", s.handle(s.serveCodec(codec.Encode, "encode")))
	s.mux.HandleFunc("POST /v1/codec/decode", s.handle(s.serveCodec(codec.Decode, "decode")))
	s.mux.HandleFunc("OPTIONS /v1/codec/{op}", s.codecPreflight)
}
