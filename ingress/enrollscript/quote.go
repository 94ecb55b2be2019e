package enrollscript

import (
	"bufio"
	_ "embed"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode"
)

// shQuote quotes s as one bash word: inside single quotes nothing is
// special, and a single quote is written as '\”.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// cmdEcho escapes text for a cmd `echo` outside quotes: ^ escapes the
// characters cmd would act on, and % is doubled (a batch file's escape).
// The texts it gets are ours; user input never reaches cmd.
func cmdEcho(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '^', '&', '|', '<', '>', '(', ')':
			b.WriteByte('^')
			b.WriteRune(r)
		case '%':
			b.WriteString("%%")
		case '"', '!':
			b.WriteByte('\'') // no escape survives both echo and blocks
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// displayAlias is the alias as cmd may print it: letters, digits and a
// few harmless marks; anything else becomes _. The alias itself travels
// base64-encoded.
func displayAlias(alias string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(" -_.:#@+,", r) {
			return r
		}
		return '_'
	}, alias)
}

// MaxAliasLen matches what /v1/register accepts.
const MaxAliasLen = 64

// CheckAlias tells why alias cannot name a device, or "" when it can.
// Quotes, ampersands and the like are fine: every form quotes or encodes
// the alias.
func CheckAlias(alias string) string {
	switch {
	case strings.TrimSpace(alias) == "":
		return "is required: a human name for the device"
	case alias != strings.TrimSpace(alias):
		return "must not start or end with spaces"
	case len(alias) > MaxAliasLen:
		return fmt.Sprintf("must be at most %d bytes", MaxAliasLen)
	}
	for _, r := range alias {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) {
			return "must be printable text (no control characters or newlines)"
		}
	}
	return ""
}

var (
	hostPattern    = regexp.MustCompile(`^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$`)
	pathPattern    = regexp.MustCompile(`^[A-Za-z0-9._~/-]*$`)
	packagePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$`)
	hexPattern     = regexp.MustCompile(`^[0-9a-f]{64}$`)
	keyPattern     = regexp.MustCompile(`^nxk_[A-Za-z0-9_-]+$`)
)

// CheckServerURL tells why u cannot go into a script, or "": the scripts
// hold it unquoted in cmd, so it may have no query, no spaces and nothing
// a shell acts on.
func CheckServerURL(u string) string {
	p, err := url.Parse(u)
	switch {
	case err != nil:
		return "is not a URL"
	case p.Scheme != "http" && p.Scheme != "https":
		return "must start with http:// or https://"
	case p.Host == "" || !hostPattern.MatchString(p.Host):
		return "needs a host name or address that devices can reach"
	case strings.HasPrefix(p.Hostname(), "0.0.0.0") || p.Hostname() == "::":
		return "has the listen-on-all address, which devices cannot reach"
	case p.User != nil || p.RawQuery != "" || p.Fragment != "" || !pathPattern.MatchString(p.Path):
		return "may have only a scheme, a host and a plain path"
	}
	return ""
}

// CheckPackage tells why name is not an Android package name, or "".
func CheckPackage(name string) string {
	if !packagePattern.MatchString(name) || len(name) > 255 {
		return "must be an Android package name such as com.nexmdm.agent"
	}
	return ""
}

//go:embed bloatware.txt
var defaultBloatware string

// DefaultBloatware is the list shipped in bloatware.txt.
func DefaultBloatware() []string {
	list, err := ParseBloatware(defaultBloatware)
	if err != nil {
		panic(err) // a test reads the shipped file
	}
	return list
}

// ParseBloatware reads a bloatware list: one package per line, # comments.
func ParseBloatware(text string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSpace(line)
		if line == "" || seen[line] {
			continue
		}
		if !packagePattern.MatchString(line) || len(line) > 255 {
			return nil, fmt.Errorf("line %d: %q is not an Android package name", n, line)
		}
		seen[line] = true
		out = append(out, line)
	}
	return out, sc.Err()
}
