package api

import (
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

func TestCodecEndpointDecodesForStaffOnly(t *testing.T) {
	key, err := temporal.NewCodecKey("test")
	require.NoError(t, err)
	codec, err := temporal.ParseCodecKeys(key)
	require.NoError(t, err)
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
