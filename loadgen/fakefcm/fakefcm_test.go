package fakefcm

import (
	"context"
	"net/http"
	"testing"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/messaging"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/option"
)

// client is the real firebase messaging client pointed at the fake.
func client(t *testing.T, s *Server) *messaging.Client {
	t.Helper()
	ctx := context.Background()
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: "nexmdm-test"},
		option.WithEndpoint(s.Endpoint()), option.WithoutAuthentication())
	require.NoError(t, err)
	c, err := app.Messaging(ctx)
	require.NoError(t, err)
	return c
}

func TestTheFirebaseClientSeesFCMsAnswers(t *testing.T) {
	s, err := Start("127.0.0.1:0")
	require.NoError(t, err)
	defer s.Close()
	c := client(t, s)
	var pushed []Message
	s.OnMessage("tok-ok", func(m Message) { pushed = append(pushed, m) })
	s.Unregister("tok-gone")
	s.FailNext("tok-busy", http.StatusInternalServerError)
	s.FailNext("tok-quota", http.StatusTooManyRequests)
	s.FailNext("tok-flaky", http.StatusServiceUnavailable) // the client retries 503 itself

	msgs := []*messaging.Message{
		{Token: "tok-ok", Data: map[string]string{"command": "{}"}},
		{Token: "tok-gone", Data: map[string]string{"command": "{}"}},
		{Token: "tok-busy", Data: map[string]string{"command": "{}"}},
		{Token: "tok-quota", Data: map[string]string{"command": "{}"}},
		{Token: "tok-flaky", Data: map[string]string{"command": "{}"}},
	}
	resp, err := c.SendEach(context.Background(), msgs)
	require.NoError(t, err)
	require.Len(t, resp.Responses, 5)
	assert.True(t, resp.Responses[0].Success)
	assert.True(t, messaging.IsUnregistered(resp.Responses[1].Error), "%v", resp.Responses[1].Error)
	assert.True(t, messaging.IsInternal(resp.Responses[2].Error), "%v", resp.Responses[2].Error)
	assert.True(t, messaging.IsQuotaExceeded(resp.Responses[3].Error), "%v", resp.Responses[3].Error)
	assert.True(t, resp.Responses[4].Success, "a 503 is retried by the client: %v", resp.Responses[4].Error)
	assert.Equal(t, 2, s.Attempts("tok-flaky"))

	require.Len(t, pushed, 1)
	assert.Equal(t, "{}", pushed[0].Data["command"])
	assert.Len(t, s.Messages(), 2, "only delivered messages are recorded")
}
