package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"html/template"
	"net"
	netmail "net/mail"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	mail "github.com/wneessen/go-mail"
)

// smtpTimeout bounds one dial-and-send when ctx has no earlier deadline.
const smtpTimeout = 30 * time.Second

// Email sends each notification as a plain-text and HTML mail over SMTP,
// subject "[NexMDM] <title>". Build it with NewEmail.
type Email struct {
	client *mail.Client
	from   string
	to     []string
	server string // host:port, for errors

	mu     sync.Mutex // one SMTP conversation at a time
	dialed []net.Conn // connections of the current Send; guarded by mu
}

// NewEmail configures SMTP delivery from a URL:
//
//	smtp://user:pass@host:port   STARTTLS, mandatory (port 587 if none)
//	smtp://…?starttls=opportunistic   STARTTLS when the server offers it
//	smtp://…?starttls=none       no TLS: for tests; a password then goes only to a loopback server
//	smtps://user:pass@host:465   implicit TLS
//
// User and password are optional (an open relay) and must be
// percent-encoded. from and to are RFC 5322 addresses. tlsConfig nil
// verifies the server against the system roots. Errors name the problem,
// never the password.
func NewEmail(smtpURL, from string, to []string, tlsConfig *tls.Config) (*Email, error) {
	cfg, err := parseSMTPURL(smtpURL)
	if err != nil {
		return nil, err
	}
	if _, err := netmail.ParseAddress(from); err != nil {
		return nil, fmt.Errorf("email: from address %q: %w", from, err)
	}
	if len(to) == 0 {
		return nil, errors.New("email: no recipient")
	}
	for _, a := range to {
		if _, err := netmail.ParseAddress(a); err != nil {
			return nil, fmt.Errorf("email: recipient %q: %w", a, err)
		}
	}
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tlsConfig = tlsConfig.Clone()
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = cfg.host
	}
	e := &Email{from: from, to: append([]string(nil), to...), server: net.JoinHostPort(cfg.host, strconv.Itoa(cfg.port))}
	opts := append(cfg.options(), mail.WithTLSConfig(tlsConfig), mail.WithTimeout(smtpTimeout))
	if !cfg.implicit {
		// go-mail leaves the connection open when STARTTLS or the
		// greeting fails; Send closes what it dialed. (With implicit TLS
		// go-mail must dial itself to know the link is encrypted.)
		opts = append(opts, mail.WithDialContextFunc(e.dialLocked))
	}
	c, err := mail.NewClient(cfg.host, opts...)
	if err != nil {
		return nil, fmt.Errorf("email: %w", err)
	}
	e.client = c
	return e, nil
}

// dialLocked dials for go-mail and remembers the connection for Send to
// close.
func (e *Email) dialLocked(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err == nil {
		e.dialed = append(e.dialed, c)
	}
	return c, err
}

// smtpConfig is what an SMTP URL says.
type smtpConfig struct {
	host       string
	port       int
	implicit   bool // smtps://
	policy     mail.TLSPolicy
	user, pass string
}

// parseSMTPURL reads and checks an SMTP URL. Its errors never quote the
// URL, which holds the password.
func parseSMTPURL(s string) (smtpConfig, error) {
	u, err := url.Parse(s)
	if err != nil {
		return smtpConfig{}, errors.New("smtp url: not a valid URL (percent-encode special characters in the user and password)")
	}
	cfg := smtpConfig{host: u.Hostname(), policy: mail.TLSMandatory}
	switch u.Scheme {
	case "smtp":
		cfg.port = 587
	case "smtps":
		cfg.port, cfg.implicit = 465, true
	default:
		return smtpConfig{}, fmt.Errorf("smtp url: scheme %q, want smtp or smtps", u.Scheme)
	}
	if cfg.host == "" {
		return smtpConfig{}, errors.New("smtp url: no host")
	}
	if p := u.Port(); p != "" {
		cfg.port, err = strconv.Atoi(p)
		if err != nil || cfg.port < 1 || cfg.port > 65535 {
			return smtpConfig{}, fmt.Errorf("smtp url: port %q is not 1-65535", p)
		}
	}
	if u.User != nil {
		cfg.user = u.User.Username()
		cfg.pass, _ = u.User.Password()
		if cfg.user == "" || cfg.pass == "" {
			return smtpConfig{}, errors.New("smtp url: give both a user and a password, or neither")
		}
	}
	if u.Path != "" && u.Path != "/" {
		return smtpConfig{}, fmt.Errorf("smtp url: unexpected path %q", u.Path)
	}
	return cfg, cfg.readQuery(u.Query())
}

// readQuery takes starttls, the only parameter, and refuses any other so
// that a typo cannot weaken TLS unnoticed.
func (cfg *smtpConfig) readQuery(q url.Values) error {
	for k := range q {
		if k != "starttls" {
			return fmt.Errorf("smtp url: unknown parameter %q (only starttls)", k)
		}
	}
	if !q.Has("starttls") {
		return nil
	}
	if cfg.implicit {
		return errors.New("smtp url: starttls applies to smtp://, not smtps://")
	}
	switch v := q.Get("starttls"); v {
	case "mandatory":
		cfg.policy = mail.TLSMandatory
	case "opportunistic":
		cfg.policy = mail.TLSOpportunistic
	case "none":
		cfg.policy = mail.NoTLS
	default:
		return fmt.Errorf("smtp url: starttls=%q, want mandatory, opportunistic or none", v)
	}
	return nil
}

// options turns the config into go-mail's client options. Over TLS the
// client picks the strongest mechanism the server offers; without TLS it
// uses PLAIN, which go-mail sends only to a loopback server.
func (cfg smtpConfig) options() []mail.Option {
	opts := []mail.Option{mail.WithPort(cfg.port)}
	if cfg.implicit {
		opts = append(opts, mail.WithSSL())
	} else {
		opts = append(opts, mail.WithTLSPolicy(cfg.policy))
	}
	if cfg.user != "" {
		auth := mail.SMTPAuthAutoDiscover
		if cfg.policy == mail.NoTLS {
			auth = mail.SMTPAuthPlain
		}
		opts = append(opts, mail.WithSMTPAuth(auth), mail.WithUsername(cfg.user), mail.WithPassword(cfg.pass))
	}
	return opts
}

// Send mails n to every recipient. A 5xx answer from the server (a refused
// login, sender or recipient) wraps ErrPermanent.
func (e *Email) Send(ctx context.Context, n Notification) error {
	m, err := e.message(n)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	err = e.client.DialAndSendWithContext(ctx, m)
	for _, c := range e.dialed {
		_ = c.Close() // usually closed already, after QUIT
	}
	e.dialed = nil
	if err != nil {
		if permanentSMTP(err) {
			return fmt.Errorf("email via %s: %w: %w", e.server, err, ErrPermanent)
		}
		return fmt.Errorf("email via %s: %w", e.server, err)
	}
	return nil
}

func (e *Email) message(n Notification) (*mail.Msg, error) {
	subject, plain := Describe(n)
	html, err := renderHTML(n)
	if err != nil {
		return nil, fmt.Errorf("email: render: %w", err)
	}
	m := mail.NewMsg()
	if err := m.From(e.from); err != nil {
		return nil, fmt.Errorf("email: from: %w", err)
	}
	if err := m.To(e.to...); err != nil {
		return nil, fmt.Errorf("email: to: %w", err)
	}
	m.Subject(subject)
	m.SetUserAgent("NexMDM")
	m.SetBodyString(mail.TypeTextPlain, plain)
	m.AddAlternativeString(mail.TypeTextHTML, html)
	return m, nil
}

// permanentSMTP reports a 5xx SMTP reply anywhere in err.
func permanentSMTP(err error) bool {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code >= 500
	}
	var se *mail.SendError
	return errors.As(err, &se) && !se.IsTemp()
}

var htmlMail = template.Must(template.New("mail").Parse(`<!doctype html>
<html><body style="font-family:sans-serif">
<h2 style="border-left:6px solid {{.Color}};padding-left:8px">{{.Title}}</h2>
{{range .Lines}}<p>{{.}}</p>
{{end}}<table cellpadding="4" style="border-collapse:collapse">
{{range .Facts}}<tr><th align="left">{{.Name}}</th><td>{{.Value}}</td></tr>
{{end}}</table>
{{if .Link}}<p><a href="{{.Link}}">Open in NexMDM</a></p>{{end}}
</body></html>
`))

// renderHTML is the HTML part: title, text, a table of facts and a link.
func renderHTML(n Notification) (string, error) {
	var lines []string
	if s := digestSummary(n); s != "" {
		lines = append(lines, strings.Split(s, "\n")...)
	}
	if n.Text != "" {
		lines = append(lines, n.Text)
	}
	var facts []Field
	for _, f := range factsOf(n) {
		if f.Name != "Link" {
			facts = append(facts, f)
		}
	}
	var b strings.Builder
	err := htmlMail.Execute(&b, map[string]any{
		"Title": title(n), "Lines": lines, "Facts": facts, "Link": n.Link,
		"Color": template.CSS(fmt.Sprintf("#%06X", color(n))),
	})
	return b.String(), err
}
