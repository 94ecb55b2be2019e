// Package wshub is the admin dashboard's live feed (GET /admin/ws): it fans
// device status changes, discrete fleet events and the fleet summary out to
// many WebSocket clients. Publishers never wait on clients: events are
// queued under a mutex and encoded on the hub's own flush loop, every batch
// is encoded once and shared, and a client that falls behind is dropped.
//
// The protocol, one JSON object per text message.
//
// The client authenticates with ?token=JWT on the URL (checked before the
// upgrade: 401 if invalid) or, without it, with its first message within
// AuthTimeout. It re-sends auth with a fresh token before expires_at, or is
// closed with 4401 "token expired":
//
//	{"type":"auth","token":"…"}
//	{"type":"auth.ok","expires_at":"2025-03-01T13:00:00Z"}   // expires_at may be null
//
// A client follows all devices until it subscribes to single ones (at most
// MaxSubscriptions); each change is confirmed with the subscription in effect:
//
//	{"type":"subscribe","all":true}
//	{"type":"subscribe","device_id":"…"}
//	{"type":"unsubscribe","device_id":"…"}
//	{"type":"subscription","all":false,"device_ids":["…"]}
//	{"type":"error","error":"bad_message","message":"…"}     // or "too_many_subscriptions"
//
// The feed shares one envelope; data is an array of elements for batches:
//
//	{"type":"fleet.summary","at":"…","data":{…}}             // after auth, then every SummaryInterval
//	{"type":"device.status","at":"…","data":[{…},…]}         // Source.AppendStatus objects, each device once per flush
//	{"type":"device.offline","at":"…","data":[{"device_id":"…","at":"…","last_seen":"…"},…]}
//	{"type":"device.online","at":"…","data":[{"device_id":"…","at":"…"},…]}
//	{"type":"alert.…","at":"…","data":[{"device_id":"…",…payload},…]}  // any Publish type, likewise
//
// A client that follows single devices gets only their elements, plus
// fleet-wide events, and no message when nothing of theirs changed. Large
// batches are split into several messages of at most MaxBatchBytes.
//
// Close codes: 4401 unauthorized (auth timed out, invalid or expired
// token, anything before auth), 1008 slow consumer or pong timeout, 1009
// message over MaxMessageBytes, 1013 too many clients, 1001 server
// shutting down.
package wshub
