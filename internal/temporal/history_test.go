package temporal_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/zinc-edu/orchestrator/internal/temporal"
	"github.com/zinc-edu/orchestrator/workflows"
)

// TestHistoryHoldsNoPlaintextButCodecDecodes starts a batch workflow on a
// real embedded Temporal server through a client with the codec, reads its
// history with a plain client (no user name in it), then decodes the same
// payloads through the remote codec protocol.
func TestHistoryHoldsNoPlaintextButCodecDecodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	srv := startTemporal(t, ctx)

	key, err := temporal.NewCodecKey("test")
	require.NoError(t, err)
	codec, err := temporal.ParseCodecKeys(key)
	require.NoError(t, err)
	log := slog.New(slog.DiscardHandler)
	cfg := temporal.Config{HostPort: srv.Address(), Namespace: "default", TaskQueuePrefix: "zinc", Codec: codec}
	c, err := temporal.Dial(ctx, cfg, log, tracenoop.NewTracerProvider(), noop.NewMeterProvider())
	require.NoError(t, err)
	t.Cleanup(c.Close)

	// No worker polls this queue: the started event's input is enough.
	users := []string{"alice-secret-user", "bob-secret-user"}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "codec-test", TaskQueue: "nobody"},
		workflows.BatchGradingName, map[string]any{"collection_id": "c", "users": users})
	require.NoError(t, err)

	plain, err := client.Dial(client.Options{HostPort: srv.Address(), Namespace: "default"})
	require.NoError(t, err)
	t.Cleanup(plain.Close)
	it := plain.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var history strings.Builder
	var input *commonpb.Payloads
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		history.WriteString(protojson.Format(ev))
		if a := ev.GetWorkflowExecutionStartedEventAttributes(); a != nil {
			input = a.GetInput()
		}
	}
	require.NotNil(t, input)
	for _, u := range users {
		assert.NotContains(t, history.String(), u)
	}

	// The remote codec protocol the API serves at /v1/codec (for staff;
	// see internal/api TestCodecEndpointDecodesForStaffOnly) decodes them.
	endpoint := httptest.NewServer(converter.NewPayloadCodecHTTPHandler(codec))
	t.Cleanup(endpoint.Close)
	remote := converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{Endpoint: endpoint.URL})
	decoded, err := remote.Decode(input.GetPayloads())
	require.NoError(t, err)
	for _, u := range users {
		assert.Contains(t, string(decoded[0].GetData()), u)
	}
}
