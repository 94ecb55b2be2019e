package client

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestHeartbeatAnswerDecodesExactlyAsEncodingJSON(t *testing.T) {
	answers := []string{
		`{"deduped":false,"commands":[],"heartbeat_interval_s":10}`,
		`{"deduped":true,"commands":null,"heartbeat_interval_s":300}`,
		`{"heartbeat_interval_s":10}`,
		`{"deduped":false,"commands":[{"id":"c1","type":"ping","sig":"abc"}],"heartbeat_interval_s":10}`,
		`{"deduped":false,"commands":[],"heartbeat_interval_s":10,"hmac_rotation":{"hmac_key_id":"k2","hmac_key":"AAEC"}}`,
		`{"deduped":false,"commands":[],"heartbeat_interval_s":10,"hmac_rotation":null}`,
		`{"deduped":false,"commands":[],"heartbeat_interval_s":10,"future_field":{"x":[1,2]}}`,
		`{"Deduped":true,"heartbeat_interval_s":10}`,    // encoding/json matches keys case-insensitively
		`{"deduped":false,"heartbeat_interval_s":10.5}`, // not an int: an error either way
		`{"deduped":"yes","heartbeat_interval_s":10}`,
		`{"deduped":false,"commands":{},"heartbeat_interval_s":10}`,
		`{"deduped":true,"deduped":false,"heartbeat_interval_s":1}`, // the last key wins
		`[]`,
		`not json`,
	}
	for _, body := range answers {
		var want, got HeartbeatResponse
		wantErr := json.Unmarshal([]byte(body), &want)
		gotErr := decodeHeartbeatResponse([]byte(body), &got)
		assert.Equal(t, wantErr == nil, gotErr == nil, "error for %s: encoding/json %v, ours %v", body, wantErr, gotErr)
		if wantErr == nil {
			assert.Equal(t, want, got, body)
		}
	}
}

func BenchmarkDecodeHeartbeatAnswer(b *testing.B) {
	body := []byte(`{"deduped":false,"commands":[],"heartbeat_interval_s":10}`)
	b.Run("fast path", func(b *testing.B) {
		for range b.N {
			var out HeartbeatResponse
			_ = decodeHeartbeatResponse(body, &out)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for range b.N {
			var out HeartbeatResponse
			_ = json.Unmarshal(body, &out)
		}
	})
}
