package api

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/temporal"
)

// testCodec is a payload codec with one new key named name.
func testCodec(t *testing.T, name string) *temporal.Codec {
	t.Helper()
	key, err := temporal.NewCodecKey(name)
	require.NoError(t, err)
	codec, err := temporal.ParseCodecKeys(key)
	require.NoError(t, err)
	return codec
}

func TestCodecEndpointDecodesForStaffOnly(t *testing.T) {
	codec := testCodec(t, "test")
	e := newEnv(t, func(p *Params) {
		p.Codec = codec
		p.Config.CodecOrigins = []string{"http://127.0.0.1:8233"}
	})
	p, err := converter.GetDefaultDataConverter().ToPayload([]string{"alice-secret-user"})
	require.NoError(t, err)
	enc, err := codec.Encode([]*commonpb.Payload{p})
	require.NoError(t, err)
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: enc})
	require.NoError(t, err)
	assert.NotContains(t, string(body), "alice-secret-user")

	assistant := e.as(e.apiKey(grading.RoleAssistant, "", grading.DefaultCourseID))
	r := assistant.doWith(http.MethodPost, "/v1/codec/decode", strings.NewReader(string(body)), "application/json",
		http.Header{"Origin": {"http://127.0.0.1:8233"}})
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	var decoded commonpb.Payloads
	require.NoError(t, protojson.Unmarshal(r.body, &decoded))
	require.Len(t, decoded.GetPayloads(), 1)
	assert.Contains(t, string(decoded.GetPayloads()[0].GetData()), "alice-secret-user")
	assert.Equal(t, "http://127.0.0.1:8233", r.header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "true", r.header.Get("Access-Control-Allow-Credentials"))

	student := e.as(e.apiKey(grading.RoleStudent, "alice", grading.DefaultCourseID))
	requireError(t, student.do(http.MethodPost, "/v1/codec/decode", strings.NewReader(string(body)), "application/json"), http.StatusForbidden, "may not")
	requireError(t, e.as("").do(http.MethodPost, "/v1/codec/decode", strings.NewReader(string(body)), "application/json"), http.StatusUnauthorized, "no credentials")

	// The browser's preflight needs no credentials.
	pre := e.as("").doWith(http.MethodOptions, "/v1/codec/decode", nil, "", http.Header{"Origin": {"http://127.0.0.1:8233"}})
	assert.Equal(t, http.StatusNoContent, pre.code)
	assert.Contains(t, pre.header.Get("Access-Control-Allow-Headers"), "Authorization")
}

// TestCodecEndpointServesTheTemporalUIOnTheSessionCookie: the apphost's
// Temporal UI calls the codec from the browser with credentials (its
// IncludeCredentials setting), so a member of staff signed in with ?token=
// sends the session cookie, Content-Type and X-Namespace, and no htmx
// header. The configured origin is answered; any other origin still needs
// the pages' HX-Request header.
func TestCodecEndpointServesTheTemporalUIOnTheSessionCookie(t *testing.T) {
	codec := testCodec(t, "test")
	const ui = "http://127.0.0.1:8233"
	e := newEnv(t, func(p *Params) {
		p.Codec = codec
		p.Config.CodecOrigins = []string{ui}
	})
	p, err := converter.GetDefaultDataConverter().ToPayload("alice-secret-user")
	require.NoError(t, err)
	enc, err := codec.Encode([]*commonpb.Payload{p})
	require.NoError(t, err)
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: enc})
	require.NoError(t, err)

	staff := e.apiKey(grading.RoleInstructor, "", grading.DefaultCourseID)
	browser := e.as("")
	header := func(origin string) http.Header {
		return http.Header{
			"Origin":      {origin},
			"X-Namespace": {"default"},
			"Cookie":      {sessionCookie + "=" + staff},
		}
	}

	r := browser.doWith(http.MethodPost, "/v1/codec/decode", strings.NewReader(string(body)), "application/json", header(ui))
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	var decoded commonpb.Payloads
	require.NoError(t, protojson.Unmarshal(r.body, &decoded))
	require.Len(t, decoded.GetPayloads(), 1)
	assert.Equal(t, `"alice-secret-user"`, string(decoded.GetPayloads()[0].GetData()))
	assert.Equal(t, ui, r.header.Get("Access-Control-Allow-Origin"))

	r = browser.doWith(http.MethodPost, "/v1/codec/decode", strings.NewReader(string(body)), "application/json", header("http://evil.test"))
	requireError(t, r, http.StatusForbidden, "HX-Request")

	// The cookie still carries only its own role.
	student := e.apiKey(grading.RoleStudent, "alice", grading.DefaultCourseID)
	h := header(ui)
	h.Set("Cookie", sessionCookie+"="+student)
	r = browser.doWith(http.MethodPost, "/v1/codec/decode", strings.NewReader(string(body)), "application/json", h)
	requireError(t, r, http.StatusForbidden, "may not")
}

// TestCodecEndpointErrorsAreJSON: what the codec cannot read is refused
// like every other bad request, with {"error","details"}.
func TestCodecEndpointErrorsAreJSON(t *testing.T) {
	codec := testCodec(t, "test")
	e := newEnv(t, func(p *Params) {
		p.Codec = codec
		p.Config.MaxJSONBytes = 1 << 10
	})
	foreign := `{"payloads":[{"metadata":{"encoding":"YmluYXJ5L2VuY3J5cHRlZA==","encryption-key-id":"b3RoZXI="},"data":"AAAA"}]}`
	tests := []struct {
		name       string
		givePath   string
		giveBody   string
		wantStatus int
		wantError  string
	}{
		{"not JSON", "/v1/codec/decode", "payloads please", http.StatusBadRequest, "malformed payloads"},
		{"wrong shape", "/v1/codec/encode", `{"payloads":"x"}`, http.StatusBadRequest, "malformed payloads"},
		{"unknown key", "/v1/codec/decode", foreign, http.StatusBadRequest, "cannot decode payloads"},
		{"too large", "/v1/codec/encode", `{"payloads":[{"data":"` + strings.Repeat("A", 8<<10) + `"}]}`, http.StatusRequestEntityTooLarge, "request body is larger than 4096 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(http.MethodPost, tt.givePath, strings.NewReader(tt.giveBody), "application/json")
			requireError(t, r, tt.wantStatus, tt.wantError)
		})
	}

	// Encoding and decoding still round-trip.
	p, err := converter.GetDefaultDataConverter().ToPayload("ada")
	require.NoError(t, err)
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{p}})
	require.NoError(t, err)
	enc := e.do(http.MethodPost, "/v1/codec/encode", strings.NewReader(string(body)), "application/json")
	require.Equal(t, http.StatusOK, enc.code, "body: %s", enc.body)
	assert.NotContains(t, string(enc.body), base64.StdEncoding.EncodeToString([]byte(`"ada"`)))
	dec := e.do(http.MethodPost, "/v1/codec/decode", strings.NewReader(string(enc.body)), "application/json")
	require.Equal(t, http.StatusOK, dec.code, "body: %s", dec.body)
	var got commonpb.Payloads
	require.NoError(t, protojson.Unmarshal(dec.body, &got))
	require.Len(t, got.GetPayloads(), 1)
	assert.Equal(t, `"ada"`, string(got.GetPayloads()[0].GetData()))
}
