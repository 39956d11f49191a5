package temporal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

// Metadata of an encrypted payload.
const (
	// EncodingEncrypted marks a payload this codec encrypted.
	EncodingEncrypted = "binary/encrypted"
	// MetadataKeyID names the key that encrypted a payload.
	MetadataKeyID = "encryption-key-id"
)

// Codec encrypts payloads with AES-256-GCM. Payloads are encrypted with the
// first (active) key and decrypted with whichever key their metadata names,
// so keys rotate by putting a new key first and keeping the old ones until
// no history needs them. Payloads without the encrypted encoding pass
// through decoding unchanged (histories from before encryption).
type Codec struct {
	active string
	keys   map[string]cipher.AEAD
}

var _ converter.PayloadCodec = (*Codec)(nil)

// ParseCodecKeys reads keys written as "id:base64key" separated by commas or
// newlines (blank lines and lines starting with # are skipped); every key
// is 32 bytes. The first is the active key.
func ParseCodecKeys(spec string) (*Codec, error) {
	c := &Codec{keys: map[string]cipher.AEAD{}}
	for _, field := range strings.FieldsFunc(spec, func(r rune) bool { return r == ',' || r == '\n' }) {
		field = strings.TrimSpace(field)
		if field == "" || strings.HasPrefix(field, "#") {
			continue
		}
		id, enc, ok := strings.Cut(field, ":")
		if !ok || id == "" {
			return nil, errors.New("parse codec keys: want id:base64key")
		}
		raw, err := base64.StdEncoding.DecodeString(enc)
		if err != nil || len(raw) != 32 {
			return nil, fmt.Errorf("parse codec key %q: want 32 bytes in standard base64", id)
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, fmt.Errorf("parse codec key %q: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("parse codec key %q: %w", id, err)
		}
		if _, dup := c.keys[id]; dup {
			return nil, fmt.Errorf("parse codec keys: key id %q given twice", id)
		}
		c.keys[id] = aead
		if c.active == "" {
			c.active = id
		}
	}
	if c.active == "" {
		return nil, errors.New("parse codec keys: no key")
	}
	return c, nil
}

// NewCodecKey returns a new random key line "id:base64key" for a key file.
func NewCodecKey(id string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate codec key: %w", err)
	}
	return id + ":" + base64.StdEncoding.EncodeToString(b), nil
}

// LoadCodec reads the codec keys from ZINC_CODEC_KEYS, or else from the file
// ZINC_CODEC_KEY_FILE names. Neither set means no encryption: nil, nil.
func LoadCodec() (*Codec, error) {
	if spec := os.Getenv("ZINC_CODEC_KEYS"); spec != "" {
		return ParseCodecKeys(spec)
	}
	path := os.Getenv("ZINC_CODEC_KEY_FILE")
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read codec key file: %w", err)
	}
	return ParseCodecKeys(string(b))
}

// Encode encrypts each payload with the active key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.keys[c.active]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("encode payload: %w", err)
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("encode payload: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(EncodingEncrypted),
				MetadataKeyID:              []byte(c.active),
			},
			Data: aead.Seal(nonce, nonce, plain, []byte(c.active)),
		}
	}
	return out, nil
}

// Decode decrypts the payloads this codec encrypted and passes others on.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != EncodingEncrypted {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		aead, ok := c.keys[id]
		if !ok {
			return nil, fmt.Errorf("decode payload: unknown key id %q", id)
		}
		data := p.GetData()
		if len(data) < aead.NonceSize() {
			return nil, errors.New("decode payload: ciphertext too short")
		}
		plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(id))
		if err != nil {
			return nil, fmt.Errorf("decode payload with key %q: %w", id, err)
		}
		var decoded commonpb.Payload
		if err := proto.Unmarshal(plain, &decoded); err != nil {
			return nil, fmt.Errorf("decode payload: %w", err)
		}
		out[i] = &decoded
	}
	return out, nil
}
