package temporal

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
)

func TestCodecRoundTripsAndRotates(t *testing.T) {
	oldKey, err := NewCodecKey("k1")
	require.NoError(t, err)
	newKey, err := NewCodecKey("k2")
	require.NoError(t, err)
	before, err := ParseCodecKeys(oldKey)
	require.NoError(t, err)
	after, err := ParseCodecKeys(newKey + "\n# the old key stays for old histories\n" + oldKey)
	require.NoError(t, err)

	p, err := converter.GetDefaultDataConverter().ToPayload(map[string]string{"user": "alice"})
	require.NoError(t, err)
	enc, err := before.Encode([]*commonpb.Payload{p})
	require.NoError(t, err)
	assert.Equal(t, "k1", string(enc[0].GetMetadata()[MetadataKeyID]))
	assert.NotContains(t, string(enc[0].GetData()), "alice")

	dec, err := after.Decode(enc)
	require.NoError(t, err, "the rotated codec still reads the old key")
	assert.Equal(t, string(p.GetData()), string(dec[0].GetData()))
	enc2, err := after.Encode([]*commonpb.Payload{p})
	require.NoError(t, err)
	assert.Equal(t, "k2", string(enc2[0].GetMetadata()[MetadataKeyID]), "new payloads use the first key")
	_, err = before.Decode(enc2)
	require.ErrorContains(t, err, `unknown key id "k2"`)

	plain, err := after.Decode([]*commonpb.Payload{p})
	require.NoError(t, err)
	assert.Equal(t, p, plain[0], "unencrypted payloads pass through")

	enc[0].Data[len(enc[0].Data)-1] ^= 1
	_, err = before.Decode(enc)
	require.Error(t, err, "tampering is detected")
}

func TestParseCodecKeysRefusesBadKeys(t *testing.T) {
	for _, spec := range []string{"", "nokey", "k:bm90IDMyIGJ5dGVz", "k1:" + string(make([]byte, 3))} {
		_, err := ParseCodecKeys(spec)
		assert.Error(t, err, spec)
	}
	k, err := NewCodecKey("a")
	require.NoError(t, err)
	_, err = ParseCodecKeys(k + "," + k)
	assert.ErrorContains(t, err, "twice")
}
