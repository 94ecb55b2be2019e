package notify

import (
	"context"
	"crypto/tls"
	"fmt"
	"mime"
	"net/mail"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEmailDelivers(t *testing.T) {
	port, inbox := newTestSMTP(t, nil, false)
	url := fmt.Sprintf("smtp://%s:%s@127.0.0.1:%d?starttls=none", smtpUser, smtpPass, port)
	e, err := NewEmail(url, "NexMDM Alerts <alerts@example.com>", []string{"ops@example.com", "Oncall <oncall@example.com>"}, nil)
	require.NoError(t, err)

	require.NoError(t, e.Send(context.Background(), offline()))
	got := receive(t, inbox)
	assert.Equal(t, "alerts@example.com", got.from)
	assert.Equal(t, []string{"ops@example.com", "oncall@example.com"}, got.to)

	h, parts := readMail(t, got.data)
	from, err := mail.ParseAddress(h.Get("From"))
	require.NoError(t, err)
	assert.Equal(t, "alerts@example.com", from.Address)
	to, err := h.AddressList("To")
	require.NoError(t, err)
	require.Len(t, to, 2)
	assert.Equal(t, "oncall@example.com", to[1].Address)
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	require.NoError(t, err)
	assert.Equal(t, "[NexMDM] Device offline: Till 4", subject)

	plain := parts["text/plain"]
	assert.Contains(t, plain, "Device offline: Till 4")
	assert.Contains(t, plain, "Last seen: 12:04 UTC (14 min ago)")
	assert.Contains(t, plain, "Site: Harbour Road")
	html := parts["text/html"]
	assert.Contains(t, html, "Device offline: Till 4")
	assert.Contains(t, html, "<th align=\"left\">Last seen</th><td>12:04 UTC (14 min ago)</td>")
	assert.Contains(t, html, `href="https://mdm.example.com/alerts/42"`)
}

func TestEmailEscapesHTML(t *testing.T) {
	n := offline()
	n.Title = `Device offline: <script>alert(1)</script>`
	n.Link = "javascript:alert(1)"
	html, err := renderHTML(n)
	require.NoError(t, err)
	assert.NotContains(t, html, "<script>")
	assert.NotContains(t, html, "javascript:")
}

func TestEmailOverSTARTTLS(t *testing.T) {
	serverTLS, roots := selfSigned(t)
	port, inbox := newTestSMTP(t, serverTLS, false)
	url := fmt.Sprintf("smtp://%s:%s@127.0.0.1:%d", smtpUser, smtpPass, port)
	e, err := NewEmail(url, "alerts@example.com", []string{"ops@example.com"}, &tls.Config{RootCAs: roots})
	require.NoError(t, err)

	require.NoError(t, e.Send(context.Background(), offline()))
	got := receive(t, inbox)
	assert.True(t, got.tls, "the mail came over TLS")
	_, parts := readMail(t, got.data)
	assert.Contains(t, parts["text/plain"], "Device offline: Till 4")
}

func TestEmailOverImplicitTLS(t *testing.T) {
	serverTLS, roots := selfSigned(t)
	port, inbox := newTestSMTP(t, serverTLS, true)
	url := fmt.Sprintf("smtps://%s:%s@127.0.0.1:%d", smtpUser, smtpPass, port)
	e, err := NewEmail(url, "alerts@example.com", []string{"ops@example.com"}, &tls.Config{RootCAs: roots})
	require.NoError(t, err)
	require.NoError(t, e.Send(context.Background(), storm()))
	got := receive(t, inbox)
	assert.True(t, got.tls)
	h, _ := readMail(t, got.data)
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	require.NoError(t, err)
	assert.Equal(t, "[NexMDM] Storm: 500 devices offline", subject)
}

func TestEmailSTARTTLSIsMandatory(t *testing.T) {
	port, inbox := newTestSMTP(t, nil, false) // offers no STARTTLS
	url := fmt.Sprintf("smtp://%s:%s@127.0.0.1:%d", smtpUser, smtpPass, port)
	e, err := NewEmail(url, "alerts@example.com", []string{"ops@example.com"}, nil)
	require.NoError(t, err)
	err = e.Send(context.Background(), offline())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "STARTTLS")
	assert.Empty(t, inbox)
}

func TestEmailRefusesAnUntrustedCertificate(t *testing.T) {
	serverTLS, _ := selfSigned(t)
	port, inbox := newTestSMTP(t, serverTLS, false)
	url := fmt.Sprintf("smtp://%s:%s@127.0.0.1:%d", smtpUser, smtpPass, port)
	e, err := NewEmail(url, "alerts@example.com", []string{"ops@example.com"}, nil) // system roots
	require.NoError(t, err)
	err = e.Send(context.Background(), offline())
	require.Error(t, err)
	assert.NotContains(t, err.Error(), smtpPass)
	assert.Empty(t, inbox)
}

func TestEmailWrongPassword(t *testing.T) {
	port, inbox := newTestSMTP(t, nil, false)
	const wrong = "not-the-Pa55word"
	url := fmt.Sprintf("smtp://%s:%s@127.0.0.1:%d?starttls=none", smtpUser, wrong, port)
	e, err := NewEmail(url, "alerts@example.com", []string{"ops@example.com"}, nil)
	require.NoError(t, err)
	err = e.Send(context.Background(), offline())
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrPermanent, "a refused login will be refused again")
	assert.NotContains(t, err.Error(), wrong)
	assert.Contains(t, err.Error(), "535")
	assert.Empty(t, inbox)
}

func TestNewEmailNamesTheProblem(t *testing.T) {
	const pass = "hunter2%zz"
	for _, tc := range []struct {
		name, url, from string
		to              []string
		want            string
	}{
		{"scheme", "http://u:p@mail.example.com", "a@example.com", []string{"b@example.com"}, `scheme "http"`},
		{"no host", "smtp://u:p@:587", "a@example.com", []string{"b@example.com"}, "no host"},
		{"port", "smtp://u:p@mail.example.com:99999", "a@example.com", []string{"b@example.com"}, `port "99999"`},
		{"user only", "smtp://u@mail.example.com", "a@example.com", []string{"b@example.com"}, "user and a password"},
		{"unknown parameter", "smtp://mail.example.com?startls=none", "a@example.com", []string{"b@example.com"}, `unknown parameter "startls"`},
		{"starttls value", "smtp://mail.example.com?starttls=maybe", "a@example.com", []string{"b@example.com"}, `starttls="maybe"`},
		{"starttls on smtps", "smtps://mail.example.com?starttls=none", "a@example.com", []string{"b@example.com"}, "not smtps"},
		{"bad escape in password", "smtp://u:" + pass + "@mail.example.com", "a@example.com", []string{"b@example.com"}, "percent-encode"},
		{"from", "smtp://mail.example.com", "not an address", []string{"b@example.com"}, `from address "not an address"`},
		{"no recipient", "smtp://mail.example.com", "a@example.com", nil, "no recipient"},
		{"recipient", "smtp://mail.example.com", "a@example.com", []string{"b@example.com", "oops"}, `recipient "oops"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewEmail(tc.url, tc.from, tc.to, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "hunter2")
		})
	}
}

func TestSMTPURLDefaults(t *testing.T) {
	for _, tc := range []struct {
		url      string
		port     int
		implicit bool
	}{
		{"smtp://u:p@mail.example.com", 587, false},
		{"smtp://u:p@mail.example.com:2525?starttls=opportunistic", 2525, false},
		{"smtps://u:p@mail.example.com", 465, true},
		{"smtp://mail.example.com:25", 25, false},
	} {
		cfg, err := parseSMTPURL(tc.url)
		require.NoError(t, err, tc.url)
		assert.Equal(t, tc.port, cfg.port, "port of %s", tc.url)
		assert.Equal(t, tc.implicit, cfg.implicit, "implicit TLS of %s", tc.url)
	}
}
