package client

import (
	"bytes"
	"encoding/json"

	"github.com/valyala/fastjson"
)

var answerParsers fastjson.ParserPool

// decodeHeartbeatResponse is json.Unmarshal into out, with a fast path for
// the usual answer, no commands and no key rotation: a loadgen decodes ten
// thousand a second, and encoding/json was a tenth of its CPU. Any other
// answer, or any surprise in this one, goes to encoding/json, so the result
// is always exactly what json.Unmarshal gives.
func decodeHeartbeatResponse(body []byte, out *HeartbeatResponse) error {
	p := answerParsers.Get()
	v, err := p.ParseBytes(body)
	ok := err == nil && decodeSimpleAnswer(v, out)
	answerParsers.Put(p)
	if ok {
		return nil
	}
	*out = HeartbeatResponse{}
	return json.Unmarshal(body, out)
}

// decodeSimpleAnswer fills out and reports true when v is an object whose
// known fields have their plain types and carry no commands and no rotation.
func decodeSimpleAnswer(v *fastjson.Value, out *HeartbeatResponse) bool {
	o, err := v.Object()
	if err != nil {
		return false
	}
	ok := true
	o.Visit(func(key []byte, f *fastjson.Value) {
		switch string(key) {
		case "deduped":
			b, err := f.Bool()
			out.Deduped, ok = b, ok && err == nil
		case "heartbeat_interval_s":
			n, err := f.Int()
			out.HeartbeatIntervalS, ok = n, ok && err == nil
		case "commands":
			switch f.Type() {
			case fastjson.TypeNull:
				out.Commands = nil
			case fastjson.TypeArray:
				a, _ := f.Array()
				ok = ok && len(a) == 0
				out.Commands = []json.RawMessage{}
			default:
				ok = false
			}
		case "hmac_rotation":
			ok = ok && f.Type() == fastjson.TypeNull
		default:
			// encoding/json matches keys case-insensitively: let it judge any
			// spelling of a known key, and ignore the rest as it would.
			ok = ok && !knownAnswerKey(key)
		}
	})
	return ok
}

func knownAnswerKey(key []byte) bool {
	for _, k := range [...]string{"deduped", "heartbeat_interval_s", "commands", "hmac_rotation"} {
		if bytes.EqualFold(key, []byte(k)) {
			return true
		}
	}
	return false
}
